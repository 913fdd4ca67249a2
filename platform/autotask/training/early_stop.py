"""External early stopping: after each epoch, ask a named Ray actor whether this run should go on.

The actor (e.g. a search's ASHA rung registry) exposes `keep_going(run_id, iteration, value) -> bool` and answers
the same question the same way, so every worker of a run reaches the same decision. The value is the epoch's
report of the search's metric (`early_stop["metric"]`, default valid_roc_auc).
"""

from __future__ import annotations

import ray


def should_continue(early_stop: dict | None, iteration: int, metrics: dict) -> bool:
    """True outside a search; otherwise the actor's decision for (run, iteration, the metric's value)."""
    if not early_stop:
        return True
    actor = ray.get_actor(early_stop["actor"], namespace=early_stop.get("namespace"))
    value = float(metrics[early_stop.get("metric", "valid_roc_auc")])
    return ray.get(actor.keep_going.remote(early_stop["run_id"], iteration, value))
