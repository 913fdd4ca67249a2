"""The one registry of model kinds: what training, serving, export, studies and tuning know about a model.

A model module registers its kind at import (`register(ModelKind(...))` at its end); every module of
`autotask.models` is imported on first use of the registry, so adding a model is one module (plus its tests and
its search space) and no other file changes.

`build_model(kind, overrides, manifest)` builds a torch kind from a run's model config and the data (`model_config`:
the typed config, d and n_tasks always from the data).

A torch kind names its parameter groups (`lr_groups`, e.g. AutoTask's facets, an MMoE's experts and gates); each
group trains at its own learning rate (`learning_rates`). LightGBM registers as a kind without torch classes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from autotask.models.language import language_width

if TYPE_CHECKING:
    from torch import nn

    from autotask.data.manifest import Manifest

REPO_SEARCH_SPACES = "search_spaces"


@dataclass(frozen=True)
class ModelKind:
    """A model kind as the platform sees it.

    `score_columns`: the columns `score()` returns (the first is the default `score`); `selection_score`: the one
    early stopping watches on validation; `lr_groups`: the model's optimizer groups by name; `search_space`: its
    default space file under search_spaces/; `check_params(typed_config, derived, d)`: extra checks of a sampled
    search config (AutoTask's e2 = d·e1), returning problems; `shown_params`: what a search's live table shows;
    `legacy_config`: config fields added after runs were first saved, with the behaviour of the runs saved without them.
    """

    name: str
    summary: str
    config_cls: type | None = None  # None: not a torch model (LightGBM)
    model_cls: type | None = None
    score_columns: tuple[str, ...] = ("score",)
    selection_score: str = "score"
    lr_groups: tuple[str, ...] = ()
    search_space: str = ""
    shown_params: tuple[str, ...] = ("lr_head",)
    check_params: Callable | None = field(default=None, compare=False)
    legacy_config: dict = field(default_factory=dict, compare=False)

    @property
    def is_torch(self) -> bool:
        return self.model_cls is not None

    def config_fields(self) -> set[str]:
        return {f.name for f in fields(self.config_cls)} if self.config_cls else set()


_KINDS: dict[str, ModelKind] = {}
_LOADED = False


def register(kind: ModelKind) -> ModelKind:
    """Add a kind (at the end of its model module); a second kind of the same name is a programming error."""
    if kind.name in _KINDS and _KINDS[kind.name] != kind:
        raise RuntimeError(f"model kind {kind.name!r} registered twice")
    _KINDS[kind.name] = kind
    return kind


def _load() -> None:
    global _LOADED
    if not _LOADED:
        import autotask.models as package

        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
        _LOADED = True


def kinds() -> dict[str, ModelKind]:
    """Every registered kind by name, in registration order."""
    _load()
    return dict(_KINDS)


def kind_names() -> tuple[str, ...]:
    return tuple(kinds())


def torch_kinds() -> dict[str, ModelKind]:
    return {name: kind for name, kind in kinds().items() if kind.is_torch}


def get_kind(name: str) -> ModelKind:
    """The kind called `name`, or ValueError listing the known ones."""
    known = kinds()
    if name not in known:
        raise ValueError(f"model must be one of {tuple(known)}, got {name!r}")
    return known[name]


def learning_rates(kind: ModelKind, training) -> dict[str, float]:
    """Each of the kind's groups: `training.lr_groups[group]` when set, else lr_facet1 / lr_facet2 for AutoTask's
    facets and lr_head for every other group."""
    defaults = {"facet1": training.lr_facet1, "facet2": training.lr_facet2}
    return {group: float(training.lr_groups.get(group, defaults.get(group, training.lr_head)))
            for group in kind.lr_groups}


DATA_FIXED_FIELDS = ("d", "n_tasks", "language_width")  # model config fields the data sets, never a run's config


def model_config(kind: str, overrides: dict, manifest: Manifest):
    """The model's typed config: the run's overrides plus what the data fixes (d, n_tasks and, for a model with a
    `language` field, language_width)."""
    config_cls = get_kind(kind).config_cls
    known = {f.name for f in fields(config_cls)}
    fixed = {"d": manifest.d, "n_tasks": manifest.n_tasks}
    if "language_width" in known:
        fixed["language_width"] = language_width(overrides, manifest)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {kind} model config field(s) {unknown}; known: {sorted(known - set(fixed))}")
    clashes = {k: v for k, v in overrides.items() if k in fixed and v != fixed[k]}
    if clashes:
        raise ValueError(f"model config {clashes} disagrees with the data ({fixed})")
    return config_cls(**{**overrides, **fixed})


def stored_model_config(saved: dict):
    """A run's saved model config (RUN_DIR/model/model_config.json, with its "kind") as the typed config it was
    trained with: a field it was saved without takes the kind's `legacy_config`, not today's default."""
    saved = dict(saved)
    kind = get_kind(saved.pop("kind"))
    return kind.config_cls(**{**kind.legacy_config, **saved})


def build_model(kind: str, overrides: dict, manifest: Manifest) -> nn.Module:
    """A torch kind's model, freshly initialised, for the run's model config on this data."""
    return get_kind(kind).model_cls(model_config(kind, overrides, manifest))
