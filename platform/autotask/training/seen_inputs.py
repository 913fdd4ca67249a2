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
        self.counts: Tensor | None = None
        self.sums: Tensor | None = None

    @classmethod
    def of(cls, model) -> SeenInputs | None:
        """The accumulator of a model that keeps seen means (AutoTask with a gate); None for any other."""
        return cls(model) if getattr(model, "seen_means", None) is not None else None

    @torch.no_grad()
    def observe(self, features: Tensor, task_ids: Tensor) -> None:
        counts, sums = self.model.input_sums(features, task_ids)
        if self.counts is None:
            self.counts, self.sums = counts, sums
        else:
            self.counts += counts
            self.sums += sums

    @torch.no_grad()
    def fold(self, distributed: bool) -> None:
        """Add this epoch's counts and sums (every worker's when `distributed`: a collective every worker joins)
        to the model's seen means, and start the next epoch's from zero."""
        counts = self.counts if self.counts is not None else torch.zeros_like(self.model.seen_counts)
        sums = self.sums if self.sums is not None else torch.zeros_like(self.model.seen_means)
        if distributed:
            torch.distributed.all_reduce(counts)
            torch.distributed.all_reduce(sums)
        self.model.add_input_sums(counts, sums)
        self.counts = self.sums = None
