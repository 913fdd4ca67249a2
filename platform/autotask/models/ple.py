"""PLE (Tang et al., RecSys 2020, "Progressive Layered Extraction (PLE): A Novel Multi-Task Learning (MTL) Model
for Personalized Recommendations"); one extraction level is CGC (Customized Gate Control).

Tasks are the general task 0 (trained on every row) and the seen scenarios 1..N (task k trained on rows of
scenario k only). Each extraction level has `n_shared` shared experts and `n_specific` experts per task; task k's
gate mixes the shared experts and its own. Every level but the last also has a shared gate over all experts of the
level (shared and every task's), whose mixture feeds the next level's shared experts; task k's mixture feeds its own
next-level experts and gate. A tower per task reads its last-level mixture.

A row is scored by its own task's path; an unseen row (id 0) by the general task's path, which every row trains,
so id 0 is defined by construction. With n_levels = 1 (CGC) a seen row of scenario k touches no parameter of
another scenario; with more levels the task-specific experts below the last level also feed the shared gate and
so learn from every row, as in the paper.
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
class PLEConfig:
    """`n_levels` extraction levels (1 = CGC) of expert MLPs of widths `expert_hidden`: `n_shared` shared experts
    and `n_specific` per task; gates are softmax(Linear(level input)); towers Linear(tower_hidden)-ReLU-Linear(1)."""

    d: int
    n_tasks: int
    n_shared: int = 1
    n_specific: int = 1
    n_levels: int = 1
    expert_hidden: tuple[int, ...] = (64, 32)
    tower_hidden: int = 16
    dropout: float = 0.0

    def __post_init__(self):
        self.expert_hidden = tuple(self.expert_hidden)  # JSON round trips give lists
        problems = (positive(self, ("d", "n_tasks", "n_shared", "n_specific", "n_levels", "tower_hidden"))
                    + dropout_rates(self, ("dropout",)) + widths_problem("expert_hidden", self.expert_hidden))
        validate(problems, "PLEConfig")


def mix(gate: nn.Linear, gate_input: Tensor, experts: list[Tensor]) -> Tensor:
    """softmax(gate(gate_input))-weighted sum of expert outputs [b, E] each."""
    weights = torch.softmax(gate(gate_input), dim=-1)  # [b, n]
    return torch.einsum("bn,bne->be", weights, torch.stack(experts, dim=1))


class PLE(TaskPathModel):
    """experts[l] / gates[l]: level l's experts ("shared", "tasks"[k]) and gates ("tasks"[k], "shared" below the
    last level); towers[k]: task k's tower. Task 0 is the general task, task k = 1..N seen scenario k.

    forward returns the own-task logit [b] (the general task's for id 0).
    """

    LR_GROUPS = ("experts", "gates", "towers")

    def __init__(self, config: PLEConfig):
        super().__init__()
        self.config = config
        n_out, width = config.n_tasks + 1, config.expert_hidden[-1]
        self.experts, self.gates = nn.ModuleList(), nn.ModuleList()
        for level in range(config.n_levels):
            n_in = config.d if level == 0 else width

            def experts(n: int, n_in: int = n_in) -> nn.ModuleList:
                return nn.ModuleList(mlp([n_in, *config.expert_hidden], config.dropout) for _ in range(n))

            self.experts.append(nn.ModuleDict({
                "shared": experts(config.n_shared),
                "tasks": nn.ModuleList(experts(config.n_specific) for _ in range(n_out)),
            }))
            gates = {"tasks": nn.ModuleList(nn.Linear(n_in, config.n_shared + config.n_specific)
                                            for _ in range(n_out))}
            if level < config.n_levels - 1:
                gates["shared"] = nn.Linear(n_in, config.n_shared + n_out * config.n_specific)
            self.gates.append(nn.ModuleDict(gates))
        self.towers = nn.ModuleList(tower(width, config.tower_hidden) for _ in range(n_out))

    def task_logits(self, features: Tensor) -> Tensor:
        """Every task's logit for every row: [b, N + 1], column 0 the general task."""
        n_out = self.config.n_tasks + 1
        task_inputs, shared_input = [features] * n_out, features
        for experts, gates in zip(self.experts, self.gates, strict=True):
            shared = [expert(shared_input) for expert in experts["shared"]]
            own = [[expert(x) for expert in task_experts] for x, task_experts in zip(task_inputs, experts["tasks"],
                                                                                     strict=True)]
            next_inputs = [mix(gate, x, shared + own_k)
                           for gate, x, own_k in zip(gates["tasks"], task_inputs, own, strict=True)]
            if "shared" in gates:
                shared_input = mix(gates["shared"], shared_input, shared + [e for own_k in own for e in own_k])
            task_inputs = next_inputs
        return torch.cat([head(x) for head, x in zip(self.towers, task_inputs, strict=True)], dim=1)


register(ModelKind(
    name="ple", summary="PLE / CGC (Tang et al. 2020): shared and task-specific experts, progressive extraction "
    "levels, a tower per task (a general task plus each seen scenario)", config_cls=PLEConfig, model_cls=PLE,
    score_columns=("score",), selection_score=PLE.selection_score, lr_groups=PLE.LR_GROUPS,
    search_space="search_spaces/ple.py",
    shown_params=("lr_head", "n_shared", "n_specific", "n_levels", "expert_hidden"),
))
