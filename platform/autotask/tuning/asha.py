"""Cooperative ASHA early stopping for trials that run a TorchTrainer.

Ray 2.60's Tune schedulers stop a trial by abandoning its function, but a Ray Train V2 run started inside the
trial keeps its worker group (and CPUs) alive, so the next trial waits forever for resources (seen here; Ray
issue #54305). Here the same ASHA rule (Li et al., 2020; as in `ray.tune.schedulers.ASHAScheduler`) is applied
by the trial itself: after each epoch the training loop asks a shared `RungRegistry` actor whether to go on, and
a trial below its rung's cutoff ends its own training loop normally, releasing every resource.
"""

from __future__ import annotations

import numpy as np
import ray


def rung_milestones(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """Iterations at which trials are compared: grace, grace·η, grace·η², ... below max_t."""
    milestones, t = [], grace_period
    while t < max_t:
        milestones.append(t)
        t *= reduction_factor
    return milestones


class RungDecisions:
    """The ASHA rule: at each rung, a trial goes on only if it is in the top 1/η of the results recorded there."""

    def __init__(self, mode: str = "max", grace_period: int = 1, reduction_factor: int = 2, max_t: int = 100):
        self.sign = 1.0 if mode == "max" else -1.0
        self.reduction_factor = reduction_factor
        self.rungs = {m: {} for m in rung_milestones(grace_period, reduction_factor, max_t)}
        self.decisions: dict[tuple[str, int], bool] = {}

    def keep_going(self, trial_id: str, iteration: int, value: float) -> bool:
        key = (trial_id, iteration)
        if key not in self.decisions:
            self.decisions[key] = self._decide(trial_id, iteration, self.sign * value)
        return self.decisions[key]

    def _decide(self, trial_id: str, iteration: int, value: float) -> bool:
        recorded = self.rungs.get(iteration)
        if recorded is None:
            return True
        if not np.isfinite(value):
            return False
        cutoff = np.percentile(list(recorded.values()), (1 - 1 / self.reduction_factor) * 100) if recorded else None
        recorded[trial_id] = value
        return cutoff is None or value >= cutoff

    def stopped(self) -> list[str]:
        return sorted({trial for (trial, _), go_on in self.decisions.items() if not go_on})


@ray.remote(num_cpus=0)
class RungRegistry(RungDecisions):
    """The decisions shared by every trial of one search (a named actor)."""


def registry_name(search_id: str) -> str:
    return f"autotask-asha-{search_id}"


NAMESPACE = "autotask"
_REGISTRIES: dict = {}  # handles held by the driver so the actors live as long as the search


def start_registry(name: str, mode: str, grace_period: int, reduction_factor: int, max_t: int):
    """A named actor owned by the search's driver; trials find it by name in the `autotask` namespace."""
    handle = RungRegistry.options(name=name, namespace=NAMESPACE, get_if_exists=True).remote(
        mode, grace_period, reduction_factor, max_t
    )
    _REGISTRIES[name] = handle
    return handle
