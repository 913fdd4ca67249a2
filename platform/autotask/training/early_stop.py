"""External early stopping: after each epoch, ask a named Ray actor whether this run should go on.

The actor (e.g. a search's ASHA rung registry) exposes `keep_going(run_id, iteration, value) -> bool` and answers
the same question the same way, so every worker of a run reaches the same decision.
"""

from __future__ import annotations

import ray


def should_continue(early_stop: dict | None, iteration: int, value: float) -> bool:
    """True outside a search; otherwise the actor's decision for (run, iteration, value)."""
    if not early_stop:
        return True
    actor = ray.get_actor(early_stop["actor"], namespace=early_stop.get("namespace"))
    return ray.get(actor.keep_going.remote(early_stop["run_id"], iteration, value))
