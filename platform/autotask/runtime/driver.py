"""The driver sequence, written once: validate → check the address → check local resources → start Ray → wait for
the cluster → work → publish.

`drive` runs it for a training run (runtime/run.py) and a search (tuning/study.py); a study checks each of its runs
with runtime.run.preflight (the same checks) and then calls `start_cluster`, as the benchmarks do. Everything before
`start_cluster` runs without Ray, so bad input is refused in seconds and nothing is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from autotask import run_lock
from autotask.location import Location, check_reachable, copy_folder
from autotask.models.registry import get_kind
from autotask.preflight import Resources, check_address, check_local_resources, wait_for_cluster
from autotask.runtime.ray_data import PREPROCESS_CPUS
from autotask.runtime.session import ensure_ray

RESULTS = "results"  # STORAGE/results: the published copy of a finished run or search folder


@dataclass(frozen=True)
class Shell:
    """Where a command's work runs and what one unit of it (a run, a trial) needs at once."""

    needs: Resources | None = None  # checked against a local Ray before it starts, then waited for on the cluster
    address: str | None = None  # --address (default RAY_ADDRESS, else a local Ray of this process's own)
    storage: str | None = None  # --storage: checked reachable first; the finished folder is published there
    console: Any = None  # where the wait for the cluster speaks


class Finished(NamedTuple):
    """What `prepare` returns when there is nothing to do (a finished run): the command's result, without Ray."""

    result: Any


def run_resources(training, model: str, extra_cpus: float = 0.0) -> Resources:
    """A torch run's Train workers, plus Ray Data's tasks beside them (design notes 5); LightGBM is one CPU task."""
    if not get_kind(model).is_torch:
        return Resources(1.0 + extra_cpus, 0, "LightGBM's training task")
    cpus = training.workers * training.cpus_per_worker + PREPROCESS_CPUS + extra_cpus
    gpus = training.workers if training.use_gpu else 0
    asked = f"--workers {training.workers} × --cpus-per-worker {training.cpus_per_worker:g} + Ray Data's tasks"
    if training.use_gpu:
        asked += ", --use-gpu: one GPU per worker"
    return Resources(cpus, gpus, asked)


def check_cluster(address: str | None, needs: Resources | None, storage: str | None = None) -> None:
    """The checks before Ray starts: an address that answers, a local Ray that can fit `needs`, reachable storage."""
    check_address(address)
    if needs is not None:
        check_local_resources(needs, address)
    if storage:
        check_reachable(storage)


def start_cluster(address: str | None = None, needs: Resources | None = None, console=None) -> None:
    """Start (or join) Ray, then wait for the cluster to fit `needs`."""
    ensure_ray(address)
    if needs is not None:
        wait_for_cluster(needs, console)


def publish_results(out: Path, storage: str) -> Location:
    """Copy the finished run or search folder (not its local Ray storage) to STORAGE/results."""
    target = Location.of(storage) / RESULTS
    copy_folder(out, target, skip=("ray",))
    return target


def drive(shell: Shell, validate: Callable[[], Any], work: Callable[[Any], Any], lock: Path | None = None,
          prepare: Callable[[Any], Any] | None = None, publish: Path | None = None,
          uses_ray: Callable[[Any], bool] | None = None):
    """The whole sequence. `validate()` checks the input (no Ray, nothing written) and returns what it read; with
    `lock` the rest holds that folder (autotask.run_lock); `prepare(validated)` writes what must exist before Ray and
    returns what `work` gets, or Finished(result) to end here without Ray; `work(...)` runs on Ray, unless
    `uses_ray(prepared)` says it needs none (an in-process run on in-memory data); `publish`: the folder copied to
    STORAGE/results afterwards (with `shell.storage`)."""
    validated = validate()
    check_cluster(shell.address, shell.needs, shell.storage)
    with run_lock.hold(lock) if lock is not None else contextlib.nullcontext():
        prepared = prepare(validated) if prepare is not None else validated
        if isinstance(prepared, Finished):
            return prepared.result
        if uses_ray is None or uses_ray(prepared):
            start_cluster(shell.address, shell.needs, shell.console)
        result = work(prepared)
        if publish is not None and shell.storage:
            publish_results(publish, shell.storage)
        return result
