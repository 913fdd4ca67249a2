"""AutoTask (paper section 3): a task-aware feature facet and a cross-task block facet, fused into one logit.

Read top to bottom: config, task-id inputs, facet 1 (attention along the feature axis), facet 2 (attention
along a block of rows), fusion, and the model with its uniform training/scoring interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.blocks import Transformer
from autotask.models.interface import binary_loss, dropout_rates, one_of, positive, validate

TASK_ID_MODES = ("none", "number", "encoding")
FUSIONS = ("concat", "sum")
ATTENTIONS = ("causal", "full")


@dataclass
class AutoTaskConfig:
    """AutoTask hyper-parameters. `d` and `n_tasks` come from the data; `e2 = d * e1` is derived, never set.

    task_id_mode: `none` (ids ignored), `number` (id appended as the last feature element), `encoding`
    (number plus a one-hot of width n_tasks + 1, id 0 = unseen, in every facet-1 token and, when
    `facet2_task_encoding`, in every facet-2 row token).
    fusion: `concat` (head on [T1, T2]) or `sum` (head on Linear(T1) + T2). attention: `causal` or `full`.
    task_id_dropout: training only, the rate at which a row's id is replaced by 0 (so id 0 learns a
    general representation for unseen scenarios).
    """

    d: int
    n_tasks: int
    e1: int = 8
    block_size: int = 16
    task_id_mode: str = "encoding"
    fusion: str = "concat"
    attention: str = "causal"
    facet2_task_encoding: bool = True
    n_layer1: int = 1
    n_head1: int = 2
    dropout1: float = 0.0
    n_layer2: int = 1
    n_head2: int = 4
    dropout2: float = 0.0
    head_hidden: int = 64
    task_id_dropout: float = 0.0

    def __post_init__(self):
        problems = positive(self, ("d", "n_tasks", "e1", "block_size", "n_layer1", "n_head1", "n_layer2",
                                   "n_head2", "head_hidden"))
        problems += dropout_rates(self, ("dropout1", "dropout2", "task_id_dropout"))
        problems += one_of(self, "task_id_mode", TASK_ID_MODES)
        problems += one_of(self, "fusion", FUSIONS)
        problems += one_of(self, "attention", ATTENTIONS)
        if not problems:
            problems += _divides(self.n_head1, "n_head1", self.e1, "e1")
            problems += _divides(self.n_head2, "n_head2", self.e2, f"e2 = d * e1 = {self.e2}")
        validate(problems, "AutoTaskConfig")

    @property
    def e2(self) -> int:
        """Facet-2 width, d * e1 (equal to facet 1's flattened width over the d feature positions)."""
        return self.d * self.e1

    @property
    def positions1(self) -> int:
        """Facet-1 sequence length: d features, plus the task-id element unless task_id_mode is none."""
        return self.d + (self.task_id_mode != "none")

    @property
    def causal(self) -> bool:
        return self.attention == "causal"


def _divides(heads: int, heads_name: str, width: int, width_name: str) -> list[str]:
    return [] if width % heads == 0 else [f"{heads_name}={heads} does not divide {width_name}={width}"]


def task_number(task_ids: Tensor) -> Tensor:
    """The task id as one float column [b, 1] (the 'Task ID Number' element)."""
    return task_ids.to(torch.float32).unsqueeze(-1)


def task_one_hot(task_ids: Tensor, n_tasks: int) -> Tensor:
    """One-hot of the task id [b, n_tasks + 1]; column 0 is the unseen-scenario id."""
    return F.one_hot(task_ids.long(), n_tasks + 1).to(torch.float32)


class FeatureFacet(nn.Module):
    """Facet 1, task-aware feature modelling: each feature element (then the task id) is a token.

    Token = [scalar value, one-hot of the task id when encoding] -> Linear to e1 + position embedding ->
    GPT-2 blocks along the feature axis. Returns [b, positions1, e1] (flattened by the model).
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.mode, self.n_tasks = config.task_id_mode, config.n_tasks
        token_width = 1 + (config.n_tasks + 1 if self.mode == "encoding" else 0)
        self.wte = nn.Linear(token_width, config.e1)
        self.transformer = Transformer(config.positions1, config.e1, config.n_layer1, config.n_head1,
                                       config.dropout1, config.causal)

    def forward(self, features: Tensor, task_ids: Tensor) -> Tensor:
        values = features if self.mode == "none" else torch.cat([features, task_number(task_ids)], dim=1)
        tokens = values.unsqueeze(-1)
        if self.mode == "encoding":
            one_hot = task_one_hot(task_ids, self.n_tasks).unsqueeze(1).expand(-1, values.shape[1], -1)
            tokens = torch.cat([tokens, one_hot], dim=-1)
        return self.transformer(self.wte(tokens))


class BlockFacet(nn.Module):
    """Facet 2, cross-task interaction: consecutive rows form blocks of t; each row is one token.

    Row token = [d features, task-id number unless none, one-hot when encoding and facet2_task_encoding]
    -> Linear to e2 + position embedding over t -> GPT-2 blocks along the block axis. Returns [b, e2].
    A trailing block shorter than t (b not a multiple of t) is run on its own, so its rows never see padding.
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.mode, self.n_tasks = config.task_id_mode, config.n_tasks
        self.with_one_hot = self.mode == "encoding" and config.facet2_task_encoding
        width = config.d + (self.mode != "none") + (config.n_tasks + 1 if self.with_one_hot else 0)
        self.max_block_size = config.block_size
        self.wte = nn.Linear(width, config.e2)
        self.transformer = Transformer(config.block_size, config.e2, config.n_layer2, config.n_head2,
                                       config.dropout2, config.causal)

    def row_tokens(self, features: Tensor, task_ids: Tensor) -> Tensor:
        parts = [features]
        if self.mode != "none":
            parts.append(task_number(task_ids))
        if self.with_one_hot:
            parts.append(task_one_hot(task_ids, self.n_tasks))
        return torch.cat(parts, dim=1)

    def forward(self, features: Tensor, task_ids: Tensor, block_size: int) -> Tensor:
        if not 1 <= block_size <= self.max_block_size:
            raise ValueError(f"block_size must be in [1, {self.max_block_size}], got {block_size}")
        tokens = self.wte(self.row_tokens(features, task_ids))
        return in_blocks(self.transformer, tokens, block_size)


def in_blocks(fn: Callable[[Tensor], Tensor], rows: Tensor, t: int) -> Tensor:
    """Apply sequence model `fn` to consecutive blocks of t rows of [b, C]; a remainder is its own block."""
    b, width = rows.shape
    full = b - b % t
    outputs = [fn(rows[:full].view(-1, t, width)).reshape(full, -1)] if full else []
    if full < b:
        outputs.append(fn(rows[full:].unsqueeze(0)).squeeze(0))
    return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


class Fusion(nn.Module):
    """Merge T1 [b, positions1 * e1] and T2 [b, e2] into one logit per row.

    concat (paper default): head([T1, T2]). sum (ablation): head(Linear(T1) + T2), the projection bringing T1
    to width e2 (T1 is (d + 1) * e1 wide when the task id is a feature element). Head: Linear-GELU-Linear.
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        t1_width = config.positions1 * config.e1
        self.project = nn.Linear(t1_width, config.e2) if config.fusion == "sum" else None
        width = config.e2 if self.project is not None else t1_width + config.e2
        hidden = config.head_hidden
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, t1: Tensor, t2: Tensor) -> Tensor:
        fused = torch.cat([t1, t2], dim=1) if self.project is None else self.project(t1) + t2
        return self.head(fused).squeeze(-1)


class AutoTask(nn.Module):
    """The multi-faceted single model: logits = fusion(flatten(facet1(x, id)), facet2(x, id, t))."""

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.config = config
        self.facet1 = FeatureFacet(config)
        self.facet2 = BlockFacet(config)
        self.fusion = Fusion(config)

    def forward(self, features: Tensor, task_ids: Tensor, block_size: int | None = None) -> Tensor:
        """features [b, d] float, task_ids [b] long -> logits [b]. Rows are blocked in the order given."""
        t1 = self.facet1(features, task_ids).flatten(1)
        t = self.config.block_size if block_size is None else block_size
        t2 = self.facet2(features, task_ids, t)
        return self.fusion(t1, t2)

    def drop_task_ids(self, task_ids: Tensor) -> Tensor:
        """In train mode, replace each id by 0 (unseen) with probability config.task_id_dropout."""
        p = self.config.task_id_dropout
        if not self.training or p == 0.0:
            return task_ids
        return task_ids.masked_fill(torch.rand(task_ids.shape, device=task_ids.device) < p, 0)

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        return binary_loss(self(features, self.drop_task_ids(task_ids)), targets)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None
              ) -> dict[str, Tensor]:
        return {"score": torch.sigmoid(self(features, task_ids, block_size))}

    def param_groups(self, lr_facet1: float, lr_facet2: float, lr_head: float, weight_decay: float = 0.0
                     ) -> list[dict]:
        """One optimizer group per facet plus one for the fusion head, each with its own learning rate."""
        parts = (("facet1", self.facet1, lr_facet1), ("facet2", self.facet2, lr_facet2),
                 ("head", self.fusion, lr_head))
        return [{"name": name, "params": list(module.parameters()), "lr": lr, "weight_decay": weight_decay}
                for name, module, lr in parts]
