"""The production-style baseline: a multi-task DNN with a shared bottom, one branch per seen scenario and a
general branch trained on every row (paper section 4.2.1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.interface import binary_loss, decay_groups, dropout_rates, positive, validate
from autotask.models.language import input_width, language_problems
from autotask.models.registry import ModelKind, register


@dataclass
class MultiTaskDNNConfig:
    """Shared fully connected layers `hidden`, then per-branch Linear(branch_hidden)-ReLU-Linear(1).
    language: `embeddings` concatenates the text embeddings (`language_width`, from the data) to the features."""

    d: int
    n_tasks: int
    hidden: tuple[int, ...] = (64, 32)
    branch_hidden: int = 16
    dropout: float = 0.0
    language: str = "none"
    language_width: int = 0

    def __post_init__(self):
        self.hidden = tuple(self.hidden)  # JSON round trips give lists
        problems = positive(self, ("d", "n_tasks", "branch_hidden")) + dropout_rates(self, ("dropout",))
        problems += language_problems(self)
        if not self.hidden or not all(isinstance(h, int) and h > 0 for h in self.hidden):
            problems.append(f"hidden must be a non-empty sequence of positive integers, got {self.hidden!r}")
        validate(problems, "MultiTaskDNNConfig")


def mlp(widths: list[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout for every consecutive pair of widths."""
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class MultiTaskDNN(nn.Module):
    """Branch 0 is the general branch (all rows); branch k = 1..N belongs to seen scenario k.

    forward returns (general logits [b], task logits [b]); rows with id 0 (unseen) get the general logit as
    their task logit.
    """

    selection_score = "score_task"  # early stopping watches the branch each seen scenario is served by
    LR_GROUPS = ("shared", "branches")

    def __init__(self, config: MultiTaskDNNConfig):
        super().__init__()
        self.config = config
        self.shared = mlp([input_width(config), *config.hidden], config.dropout)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Linear(config.hidden[-1], config.branch_hidden), nn.ReLU(),
                          nn.Linear(config.branch_hidden, 1))
            for _ in range(config.n_tasks + 1)
        )

    def forward(self, features: Tensor, task_ids: Tensor) -> tuple[Tensor, Tensor]:
        h = self.shared(features)
        all_logits = torch.cat([branch(h) for branch in self.branches], dim=1)  # [b, N + 1]
        task_logits = all_logits.gather(1, task_ids.long().unsqueeze(1)).squeeze(1)
        return all_logits[:, 0], task_logits

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        """General-branch BCE on all rows + task-branch BCE on rows of seen scenarios."""
        general, task = self(features, task_ids)
        seen = (task_ids > 0).to(task.dtype)
        per_row = F.binary_cross_entropy_with_logits(task, targets.to(task.dtype), reduction="none")
        return binary_loss(general, targets) + (per_row * seen).sum() / seen.sum().clamp(min=1.0)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None
              ) -> dict[str, Tensor]:
        """{"score": general branch, "score_task": own branch (general for id 0)}; block_size is unused."""
        general, task = self(features, task_ids)
        return {"score": torch.sigmoid(general), "score_task": torch.sigmoid(task)}

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        """The shared bottom and the branches at their rates (both lr_head unless set); decay on weight matrices."""
        return [group for name, module in (("shared", self.shared), ("branches", self.branches))
                for group in decay_groups(name, module, rates[name], weight_decay)]


register(ModelKind(
    name="dnn", summary="the paper's multi-task DNN baseline: shared bottom, a branch per seen scenario and a "
    "general branch", config_cls=MultiTaskDNNConfig, model_cls=MultiTaskDNN, score_columns=("score", "score_task"),
    selection_score=MultiTaskDNN.selection_score, lr_groups=MultiTaskDNN.LR_GROUPS, search_space="search_spaces/dnn.py",
    shown_params=("lr_head", "hidden", "branch_hidden"),
))
