"""Starting (or joining) the Ray session a runner works in."""

from __future__ import annotations

import logging
import os

import ray
import ray.data

QUIET = {
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",  # one runner progress display, not one bar per Ray Data operator
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
}


def ensure_ray(address: str | None = None, num_cpus: int | None = None, verbose: bool = False) -> None:
    """Join `address` (or RAY_ADDRESS) when given, else start a local Ray; reuse a session already running.

    Worker logs stay in Ray's session logs (/tmp/ray/session_latest/logs) unless `verbose` or AUTOTASK_VERBOSE=1;
    failures still surface as exceptions in the driver.
    """
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    ray.data.DataContext.get_current().enable_progress_bars = False
    if ray.is_initialized():
        return
    verbose = verbose or os.environ.get("AUTOTASK_VERBOSE") == "1"
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
    ray.init(logging_level=logging.WARNING, log_to_driver=verbose, runtime_env={"env_vars": QUIET}, **kwargs)
