"""Build a torch model from a run config and a dataset manifest (d and n_tasks always come from the data)."""

from __future__ import annotations

from dataclasses import fields

from torch import nn

from autotask.data.manifest import Manifest
from autotask.models.language import language_width
from autotask.models.registry import get_kind


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


def build_model(kind: str, overrides: dict, manifest: Manifest) -> nn.Module:
    model_cls = get_kind(kind).model_cls
    return model_cls(model_config(kind, overrides, manifest))
