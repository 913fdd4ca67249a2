"""What every torch model here offers, so training code never special-cases a model.

- `training_loss(features, task_ids, targets) -> scalar`: BCE with logits on soft or hard targets in [0, 1].
- `score(features, task_ids, block_size=None) -> {"score": probabilities, ...}`: the eval-time output.
- `selection_score`: the score column early stopping watches on the validation split (the DNN's task branch).
- `LR_GROUPS` and `param_groups(rates, weight_decay=0.0) -> list[dict]`: the model's named optimizer groups
  (`rates`: a learning rate per name in LR_GROUPS, from `registry.learning_rates`), covering every parameter
  exactly once. Weight decay applies to weight matrices only, never to biases or LayerNorm (`decay_groups`).
- A module-level `register(ModelKind(...))` (autotask.models.registry) makes the kind known to training,
  serving, export, studies and tuning.
"""

from __future__ import annotations

from typing import Protocol

import torch.nn.functional as F
from torch import Tensor, nn

SERVING_BLOCK_SIZE = 1  # serving scores each row on its own: a facet-2 block of one row


class TaskModel(Protocol):
    selection_score: str

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        ...

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None
              ) -> dict[str, Tensor]:
        ...

    LR_GROUPS: tuple[str, ...]

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        ...


def binary_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean BCE with logits; targets may be soft (teacher probabilities) or hard labels."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def decay_groups(name: str, module: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Two optimizer groups of a module at one learning rate: weight matrices (ndim >= 2) with `weight_decay`, and
    biases, LayerNorm and other vectors without; empty groups are left out."""
    params = list(module.parameters())
    groups = [{"name": name, "params": [p for p in params if p.ndim >= 2], "lr": lr, "weight_decay": weight_decay},
              {"name": f"{name}.no_decay", "params": [p for p in params if p.ndim < 2], "lr": lr,
               "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def check_matches_data(config, d: int, n_tasks: int) -> None:
    """Raise ValueError when a model config's d / n_tasks disagree with the dataset's."""
    wrong = [f"{name}={getattr(config, name)} but the data has {name}={value}"
             for name, value in (("d", d), ("n_tasks", n_tasks)) if getattr(config, name) != value]
    if wrong:
        raise ValueError(f"{type(config).__name__} does not match the data: " + "; ".join(wrong))


def validate(problems: list[str], owner: str) -> None:
    """Raise one ValueError listing every config problem found."""
    if problems:
        raise ValueError(f"invalid {owner}: " + "; ".join(problems))


def positive(config, names: tuple[str, ...]) -> list[str]:
    return [f"{name} must be a positive integer, got {getattr(config, name)!r}"
            for name in names if not (isinstance(getattr(config, name), int) and getattr(config, name) > 0)]


def non_negative(config, names: tuple[str, ...]) -> list[str]:
    return [f"{name} must be a non-negative integer, got {getattr(config, name)!r}"
            for name in names if not (isinstance(getattr(config, name), int) and getattr(config, name) >= 0)]


def dropout_rates(config, names: tuple[str, ...]) -> list[str]:
    return [f"{name} must be in [0, 1), got {getattr(config, name)!r}"
            for name in names if not 0.0 <= getattr(config, name) < 1.0]


def one_of(config, name: str, choices: tuple[str, ...]) -> list[str]:
    value = getattr(config, name)
    return [] if value in choices else [f"{name} must be one of {choices}, got {value!r}"]
