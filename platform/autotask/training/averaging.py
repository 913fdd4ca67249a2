"""An exponential moving average of a model's weights, the model that validation, early stopping and the saved run
use when `TrainingConfig.weight_average_epochs` > 0 (docs/worlds.md, "Weight averaging").

The average spans about `horizon_epochs` epochs whatever the data size: its per-step decay is 1 - 1 / (horizon x the
stage's optimizer steps per epoch). Until t updates reach that horizon the average is the plain mean of the t
weights seen (decay 1 - 1 / t), so it is never dragged towards the random initial weights.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn


class WeightAverage:
    """The moving average of `model`'s parameters (buffers are the model's own: they hold statistics, not weights)."""

    def __init__(self, model: nn.Module, horizon_epochs: float):
        self.params = list(model.parameters())
        self.horizon_epochs = horizon_epochs
        self.decay = 0.0
        self.shadow = [p.detach().clone() for p in self.params]  # on the parameters' device
        self.updates = 0

    def set_steps_per_epoch(self, steps: int) -> None:
        """The current stage's optimizer steps per epoch, which fix the per-step decay."""
        self.decay = 1.0 - 1.0 / max(self.horizon_epochs * max(steps, 1), 1.0)

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current weights; call after every optimizer step."""
        self.updates += 1
        decay = min(self.decay, 1.0 - 1.0 / self.updates)
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - decay)

    @contextlib.contextmanager
    def applied(self):
        """The model holds the averaged weights inside the block, its trained ones again after it."""
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            torch._foreach_copy_([p.data for p in self.params], self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.data for p in self.params], trained)

    @torch.no_grad()
    def synchronise(self) -> None:
        """Every worker takes rank 0's average: DDP keeps the weights equal, but shards of uneven length give some
        workers a few updates more (a different average would stop them at different epochs: a hang)."""
        for shadow in self.shadow:
            torch.distributed.broadcast(shadow, src=0)
        updates = torch.tensor([self.updates], device=self.shadow[0].device)
        torch.distributed.broadcast(updates, src=0)
        self.updates = int(updates.item())

    def state_dict(self) -> dict:
        return {"shadow": [s.cpu() for s in self.shadow], "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        for shadow, saved in zip(self.shadow, state["shadow"], strict=True):
            shadow.copy_(saved)
        self.updates = state["updates"]


def steps_per_epoch(rows: int, batch_size: int, workers: int) -> int:
    """Optimizer steps one worker takes in an epoch over `rows` rows shared by `workers`."""
    return max(math.ceil(rows / max(workers, 1) / batch_size), 1)
