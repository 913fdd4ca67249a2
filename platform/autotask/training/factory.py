"""Build a torch model from a run config and a dataset manifest (d and n_tasks always come from the data)."""

from __future__ import annotations

from dataclasses import fields

from torch import nn

from autotask.data.manifest import Manifest
from autotask.models.registry import get_kind


def model_config(kind: str, overrides: dict, manifest: Manifest):
    """The model's typed config: the run's overrides plus d and n_tasks taken from the manifest."""
    config_cls = get_kind(kind).config_cls
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {kind} model config field(s) {unknown}; known: {sorted(known - {'d', 'n_tasks'})}")
    fixed = {"d": manifest.d, "n_tasks": manifest.n_tasks}
    clashes = {k: v for k, v in overrides.items() if k in fixed and v != fixed[k]}
    if clashes:
        raise ValueError(f"model config {clashes} disagrees with the data (d={manifest.d}, n_tasks={manifest.n_tasks})")
    return config_cls(**{**overrides, **fixed})


def build_model(kind: str, overrides: dict, manifest: Manifest) -> nn.Module:
    model_cls = get_kind(kind).model_cls
    return model_cls(model_config(kind, overrides, manifest))
