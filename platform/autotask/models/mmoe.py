"""MMoE (Ma et al., KDD 2018, "Modeling Task Relationships in Multi-task Learning with Multi-gate
Mixture-of-Experts"): expert MLPs shared by every task, one softmax gate per task over the experts, one tower per
task.

Tasks are the general task 0 (trained on every row) and the seen scenarios 1..N (task k trained on rows of
scenario k only), as in the multi-task DNN. A row is scored by its own task's gate and tower; an unseen row
(id 0) by the general gate and tower, which every row trains, so id 0 is defined by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.dnn import mlp
from autotask.models.interface import binary_loss, decay_groups, dropout_rates, positive, validate
from autotask.models.registry import ModelKind, register


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


@dataclass
class MMoEConfig:
    """`n_experts` expert MLPs of widths `expert_hidden`; per task a softmax gate Linear(d, n_experts) and a tower
    Linear(tower_hidden)-ReLU-Linear(1) over the gated mixture of experts."""

    d: int
    n_tasks: int
    n_experts: int = 4
    expert_hidden: tuple[int, ...] = (64, 32)
    tower_hidden: int = 16
    dropout: float = 0.0

    def __post_init__(self):
        self.expert_hidden = tuple(self.expert_hidden)  # JSON round trips give lists
        problems = (positive(self, ("d", "n_tasks", "n_experts", "tower_hidden")) + dropout_rates(self, ("dropout",))
                    + widths_problem("expert_hidden", self.expert_hidden))
        validate(problems, "MMoEConfig")


class MMoE(nn.Module):
    """Gate and tower 0 belong to the general task (every row); gate and tower k = 1..N to seen scenario k.

    forward returns the own-task logit [b]: task k's gate and tower for rows of scenario k, the general task's for
    id 0 (unseen). Dropout acts after every expert layer.
    """

    selection_score = "score"
    LR_GROUPS = ("experts", "gates", "towers")

    def __init__(self, config: MMoEConfig):
        super().__init__()
        self.config = config
        n_out = config.n_tasks + 1
        self.experts = nn.ModuleList(mlp([config.d, *config.expert_hidden], config.dropout)
                                     for _ in range(config.n_experts))
        self.gates = nn.ModuleList(nn.Linear(config.d, config.n_experts) for _ in range(n_out))
        self.towers = nn.ModuleList(tower(config.expert_hidden[-1], config.tower_hidden) for _ in range(n_out))

    def task_logits(self, features: Tensor) -> Tensor:
        """Every task's logit for every row: [b, N + 1], column 0 the general task."""
        experts = torch.stack([expert(features) for expert in self.experts], dim=1)  # [b, n_experts, E]
        logits = []
        for gate, head in zip(self.gates, self.towers, strict=True):
            weights = torch.softmax(gate(features), dim=-1)  # [b, n_experts]
            logits.append(head(torch.einsum("be,bef->bf", weights, experts)))
        return torch.cat(logits, dim=1)

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
        """Experts, gates and towers each at its rate (lr_head unless set); decay on weight matrices only."""
        return named_param_groups(self, rates, weight_decay)


register(ModelKind(
    name="mmoe", summary="MMoE (Ma et al. 2018): shared experts, a softmax gate and a tower per task (a general task "
    "plus each seen scenario)", config_cls=MMoEConfig, model_cls=MMoE, score_columns=("score",),
    selection_score=MMoE.selection_score, lr_groups=MMoE.LR_GROUPS, search_space="search_spaces/mmoe.py",
    shown_params=("lr_head", "n_experts", "expert_hidden", "tower_hidden"),
))
