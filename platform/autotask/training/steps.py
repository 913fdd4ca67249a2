"""Framework-free training and evaluation steps (plain torch; Ray wiring lives elsewhere).

Every model implements the interface in `autotask.models.interface`, so nothing here branches on the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn


def make_optimizer(model: nn.Module, rates: dict[str, float] | float, weight_decay: float = 0.0,
                   fused: bool = True) -> torch.optim.Optimizer:
    """One optimizer over the model's named parameter groups (`rates`: a learning rate per name in the model's
    LR_GROUPS, or one rate for all): Adam, or AdamW when weight_decay > 0. `fused`: one kernel for the update of all
    parameters instead of a loop over the model's many small tensors (the same arithmetic; ~1.1x a CPU step,
    docs/speed.md)."""
    rates = rates if isinstance(rates, dict) else dict.fromkeys(model.LR_GROUPS, float(rates))
    groups = model.param_groups(rates, weight_decay)
    for group in groups:
        group["base_lr"] = group["lr"]  # the schedule scales this (`set_lr_factor`)
    optimizer_cls = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    return optimizer_cls(groups, lr=max(rates.values()), fused=fused or None)


def lr_factor(epoch_in_stage: int, stage_epochs: int, warmup_epochs: int, decay: str, min_ratio: float) -> float:
    """Multiplier of the base learning rates for one epoch of a stage: linear warm-up over the first
    `warmup_epochs` (epoch i at (i + 1) / (warmup + 1)), then cosine from 1 down to `min_ratio` at the stage's last
    epoch (`decay="cosine"`) or constant 1 (`"none"`)."""
    if epoch_in_stage < warmup_epochs:
        return (epoch_in_stage + 1) / (warmup_epochs + 1)
    if decay == "none":
        return 1.0
    span = stage_epochs - warmup_epochs - 1
    progress = (epoch_in_stage - warmup_epochs) / span if span > 0 else 0.0
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr_factor(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Every group's learning rate = its base rate x factor."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor


def shuffle_seed(seed: int, epoch: int) -> int:
    """The local shuffle seed of one epoch: a new order every epoch, the same orders for the same --seed."""
    return seed * 1000 + epoch


class LossModule(nn.Module):
    """Routes a model's training loss through forward(), so DDP (in the Ray loop) synchronises its gradients.
    `autocast`: a dtype (bf16) the forward pass runs in under torch.autocast, or None for fp32."""

    def __init__(self, model: nn.Module, autocast: torch.dtype | None = None):
        super().__init__()
        self.model = model
        self.autocast = autocast

    def forward(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        with torch.autocast(features.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            return self.model.training_loss(features, task_ids, targets).float()


def compiled_step(loss: nn.Module, enabled: bool, backend: str = "inductor") -> nn.Module:
    """The loss module under torch.compile (one graph per model: the loss path has no data-dependent branch), or
    itself. Shapes that change (an epoch's short last batch, a halved stage batch) recompile once as dynamic.
    `backend`: inductor generates fused kernels; aot_eager (tests) traces the same graphs without code generation."""
    return torch.compile(loss, backend=backend) if enabled else loss


def train_step(loss: Callable[[Tensor, Tensor, Tensor], Tensor], optimizer: torch.optim.Optimizer,
               features: Tensor, task_ids: Tensor, targets: Tensor) -> float:
    """One gradient step on one batch; returns the batch loss. `loss`: a LossModule, or the DDP wrapping one (the
    Ray loop calls this same step), in train mode."""
    optimizer.zero_grad(set_to_none=True)
    value = loss(features, task_ids, targets)
    value.backward()
    optimizer.step()
    return float(value.detach())


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer,
                batches: Iterable[tuple[Tensor, Tensor, Tensor]], loss: nn.Module | None = None) -> float:
    """train_step over (features, task_ids, targets) batches; returns the row-weighted mean loss. `loss`: the
    model's step module (compiled, autocast) when not a plain LossModule."""
    loss = (LossModule(model) if loss is None else loss).train()
    total, rows = 0.0, 0
    for features, task_ids, targets in batches:
        total += train_step(loss, optimizer, features, task_ids, targets) * len(targets)
        rows += len(targets)
    return total / max(rows, 1)


def group_chunks(groups: np.ndarray, chunk_rows: int) -> Iterator[np.ndarray]:
    """Row indices in chunks that each hold one group only, in original order within the group.

    chunk_rows is a multiple of the block size, so blocks formed inside a chunk never cross a group boundary
    (only a group's last block can be shorter).
    """
    order = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1]])
    for rows in np.split(order, starts[1:]):
        yield from np.split(rows, np.arange(chunk_rows, len(rows), chunk_rows))


@torch.no_grad()
def predict(model: nn.Module, features, task_ids, groups=None, block_size: int | None = None,
            batch_size: int = 8192, in_context: bool = False) -> dict[str, np.ndarray]:
    """Score rows in eval mode; returns {score name: probabilities} in the ORIGINAL row order.

    Facet-2 blocks at inference hold rows of one scenario only: rows are grouped by `groups` (scenario codes;
    two unseen scenarios share task id 0, so the ids alone cannot tell them apart; defaults to task_ids) and
    blocks of `block_size` rows (default: the model config's) are formed inside each group.
    `in_context`: also the scores a model computes from a whole group at once (`in_context_scores`, e.g.
    AutoTask's `score_context`), one call per group.
    """
    features, task_ids = np.asarray(features, dtype=np.float32), np.asarray(task_ids, dtype=np.int64)
    groups = task_ids if groups is None else np.asarray(groups)
    t = block_size or getattr(model.config, "block_size", 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs: dict[str, np.ndarray] = {}
    group_scores = getattr(model, "in_context_scores", None) if in_context else None
    chunks = [(model.score, max(batch_size // t, 1) * t)] + ([(group_scores, len(task_ids))] if group_scores else [])
    for score, chunk_rows in chunks:
        for rows in group_chunks(groups, chunk_rows):
            scores = score(torch.from_numpy(features[rows]).to(device), torch.from_numpy(task_ids[rows]).to(device),
                           block_size=t)
            for name, values in scores.items():
                column = outputs.setdefault(name, np.empty(len(task_ids), dtype=np.float32))
                column[rows] = values.float().cpu().numpy()
    model.train(was_training)
    return outputs
