"""What the expert-based multi-task baselines share: a general task 0 (every row) beside one task path per seen
scenario, scored by each row's own path (the general one for id 0, which every row trains), and their config and
optimizer helpers. A model supplies `task_logits(features) -> [b, N + 1]` and `LR_GROUPS` (submodule names)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.interface import binary_loss, decay_groups


def widths_problem(name: str, widths: tuple) -> list[str]:
    """A config's tuple of layer widths must be non-empty positive integers."""
    if widths and all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
        return []
    return [f"{name} must be a non-empty sequence of positive integers, got {widths!r}"]


def tower(n_in: int, hidden: int) -> nn.Sequential:
    """A task tower as the DNN's branches: Linear(hidden)-ReLU-Linear(1)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def named_param_groups(model: nn.Module, rates: dict[str, float], weight_decay: float) -> list[dict]:
    """One pair of decay groups per name in `model.LR_GROUPS` (a submodule of that name), each at `rates[name]`."""
    missing = [name for name in model.LR_GROUPS if name not in rates]
    if missing:
        raise ValueError(f"{type(model).__name__} needs a learning rate for each of {list(model.LR_GROUPS)}; "
                         f"missing {missing}")
    return [group for name in model.LR_GROUPS
            for group in decay_groups(name, getattr(model, name), rates[name], weight_decay)]


def general_and_own_loss(general: Tensor, own: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
    """BCE of the general path on all rows + BCE of the own-task path on rows of seen scenarios (masked mean)."""
    seen = (task_ids > 0).to(own.dtype)
    per_row = F.binary_cross_entropy_with_logits(own, targets.to(own.dtype), reduction="none")
    return binary_loss(general, targets) + (per_row * seen).sum() / seen.sum().clamp(min=1.0)


class TaskPathModel(nn.Module):
    """paths / forward / training_loss / score / param_groups over a subclass's `task_logits` and LR_GROUPS."""

    selection_score = "score"
    LR_GROUPS: tuple[str, ...] = ()

    def task_logits(self, features: Tensor) -> Tensor:
        raise NotImplementedError

    def paths(self, features: Tensor, task_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(general logits [b], own-task logits [b]); the own task of id 0 is the general task."""
        logits = self.task_logits(features)
        return logits[:, 0], logits.gather(1, task_ids.long().unsqueeze(1)).squeeze(1)

    def forward(self, features: Tensor, task_ids: Tensor) -> Tensor:
        return self.paths(features, task_ids)[1]

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        """General-task BCE on all rows + own-task BCE on rows of seen scenarios."""
        return general_and_own_loss(*self.paths(features, task_ids), task_ids, targets)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None) -> dict[str, Tensor]:
        """{"score": own-task probability (general for id 0)}; block_size is unused (rows are independent)."""
        return {"score": torch.sigmoid(self(features, task_ids))}

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        """Each group in LR_GROUPS at its rate (lr_head unless set); decay on weight matrices only."""
        return named_param_groups(self, rates, weight_decay)
