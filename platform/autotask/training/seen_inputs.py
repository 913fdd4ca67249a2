"""Each seen id's mean training input (AutoTask's `seen_means`, read by the `moments` onboarding profile), summed
over every worker's shard.

The loop adds each minibatch's per-id counts and input sums here and folds them into the model's buffers once per
epoch, after summing them across workers. Updating the buffers at every step would keep rank 0's shard alone: DDP
copies rank 0's buffers to every worker at each forward (`broadcast_buffers`).
"""

from __future__ import annotations

import torch
from torch import Tensor


class SeenInputs:
    """An epoch's per-id counts and input sums of one worker; `fold` adds every worker's into the model's means."""

    def __init__(self, model) -> None:
        self.model = model
        self.counts = torch.zeros_like(model.seen_counts)  # on the model's device: made after it is placed
        self.sums = torch.zeros_like(model.seen_means)

    @classmethod
    def of(cls, model) -> SeenInputs | None:
        """The accumulator of a model that keeps seen means (AutoTask with a gate); None for any other."""
        return cls(model) if getattr(model, "seen_means", None) is not None else None

    @torch.no_grad()
    def observe(self, features: Tensor, task_ids: Tensor) -> None:
        counts, sums = self.model.input_sums(features, task_ids)
        self.counts += counts
        self.sums += sums

    @torch.no_grad()
    def fold(self, distributed: bool) -> None:
        """Add this epoch's counts and sums (every worker's when `distributed`: a collective every worker joins)
        to the model's seen means, and start the next epoch's from zero."""
        if distributed:
            torch.distributed.all_reduce(self.counts)
            torch.distributed.all_reduce(self.sums)
        self.model.add_input_sums(self.counts, self.sums)
        self.counts.zero_()
        self.sums.zero_()
