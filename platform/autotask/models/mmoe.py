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
from torch import Tensor, nn

from autotask.models.dnn import mlp
from autotask.models.interface import dropout_rates, positive, validate
from autotask.models.registry import ModelKind, register
from autotask.models.task_paths import TaskPathModel, tower, widths_problem


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


class MMoE(TaskPathModel):
    """Gate and tower 0 belong to the general task (every row); gate and tower k = 1..N to seen scenario k.

    forward returns the own-task logit [b]: task k's gate and tower for rows of scenario k, the general task's for
    id 0 (unseen). Dropout acts after every expert layer.
    """

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


register(ModelKind(
    name="mmoe", summary="MMoE (Ma et al. 2018): shared experts, a softmax gate and a tower per task (a general task "
    "plus each seen scenario)", config_cls=MMoEConfig, model_cls=MMoE, score_columns=("score",),
    selection_score=MMoE.selection_score, lr_groups=MMoE.LR_GROUPS, search_space="search_spaces/mmoe.py",
    shown_params=("lr_head", "n_experts", "expert_hidden", "tower_hidden"),
))
