"""Language inputs: which models read the dataset's text embeddings, and how wide those inputs are.

A model config with `language="embeddings"` reads, after the d z-scored features, every embedding column of the
dataset side by side (query, then offer: `language_width` floats, taken from the data like d). The model input is
then one [b, d + language_width] matrix, so training, scoring, serving and export pass it on unchanged.
"""

from __future__ import annotations

LANGUAGE_MODES = ("none", "embeddings")


def language_mode(model_config) -> str:
    """A model config's (a dict or a typed config) language mode; "none" when it has no such field."""
    if isinstance(model_config, dict):
        return model_config.get("language", "none")
    return getattr(model_config, "language", "none")


def reads_language(model_config) -> bool:
    return language_mode(model_config) == "embeddings"


def language_width(model_config, manifest) -> int:
    """The language inputs' width the model reads: 0 unless it reads them; ValueError for an unknown mode or a
    dataset without embeddings."""
    mode = language_mode(model_config)
    if mode not in LANGUAGE_MODES:
        raise ValueError(f"language must be one of {LANGUAGE_MODES}, got {mode!r}")
    if mode == "none":
        return 0
    if not manifest.language_width:
        raise ValueError("language='embeddings' reads the dataset's text embeddings, but this dataset has none; "
                         "build it with `build_data.py text|home-depot --text-embeddings minilm`")
    return manifest.language_width


def input_width(config) -> int:
    """Columns of a model's input matrix: d features plus its language inputs (0 when it reads none)."""
    return config.d + getattr(config, "language_width", 0)


def language_problems(config, texts: int = 1) -> list[str]:
    """A typed config's language fields: a known mode, and a width (from the data) exactly when it reads language,
    divisible into `texts` equal parts."""
    if config.language not in LANGUAGE_MODES:
        return [f"language must be one of {LANGUAGE_MODES}, got {config.language!r}"]
    width = config.language_width
    if config.language == "none":
        return [] if width == 0 else [f"language_width={width} but language='none' (it is set from the data)"]
    if not (isinstance(width, int) and width > 0 and width % texts == 0):
        return [f"language='embeddings' needs language_width (from the data) a positive multiple of {texts}, got "
                f"{width!r}"]
    return []
