"""Runs trained beside the driver's own: while a 1-worker CPU run trains in the driver's process (one torch thread,
runtime/local.py), the machine's other cores are idle; small runs after it can train there at the same time.

`BesideRuns` trains the runs given to it one after another in one Ray actor process (no CPU reserved: the driver's
in-process run reserves none either, and LightGBM's own task asks Ray for its CPU), with the same configs, seeds and
torch thread count as in the driver, so their results are the ones a sequential job gets. A thread of the driver
reports each run's end to the progress display as it comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import ray

from autotask.config import RunConfig
from autotask.runtime.local import execution


def trains_beside(first: RunConfig, storage: str | None = None) -> bool:
    """Whether later runs can train beside `first`: it trains in the driver's process and Ray has a CPU to spare."""
    return execution(first, storage) == "in-process" and ray.cluster_resources().get("CPU", 0.0) >= 2


@ray.remote(num_cpus=0)
class _Trainer:
    """One process that trains runs in the order they are asked for (an actor runs one call at a time)."""

    def train(self, run: dict, run_dir: str, fresh: bool):
        from autotask.runtime.run import train_run  # not at import: runtime.run imports this module's neighbours

        return train_run(RunConfig.from_dict(run), run_dir, fresh=fresh)


class BesideRuns:
    """Runs submitted now, trained one after another in a second process; `finished(label, metrics)` is called in
    the driver as each ends. `results()` waits for all and returns {label: metrics frame}, raising a run's error."""

    def __init__(self, finished: Callable[[str, object], None]):
        self._trainer = _Trainer.remote()
        self._pending: dict[str, ray.ObjectRef] = {}
        self._results: dict[str, object] = {}
        self._errors: dict[str, BaseException] = {}
        self._finished = finished
        self._watcher: threading.Thread | None = None

    def submit(self, label: str, run: RunConfig, run_dir: str, fresh: bool = False) -> None:
        self._pending[label] = self._trainer.train.remote(run.to_dict(), str(run_dir), fresh)

    def start(self) -> None:
        """Report each run's end as it comes (a daemon thread: a Ctrl-C in the driver never waits for it)."""
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="beside-runs")
        self._watcher.start()

    def _watch(self) -> None:
        for label, ref in self._pending.items():  # one actor: they end in the order submitted
            try:
                self._results[label] = ray.get(ref)
                self._finished(label, self._results[label])
            except Exception as exc:  # raised in the driver by results()
                self._errors[label] = exc
                return

    def results(self) -> dict[str, object]:
        if self._watcher is None:
            self.start()
        self._watcher.join()
        self.close()
        for error in self._errors.values():
            cause = getattr(error, "cause", None)  # the run's own error, with Ray's remote traceback as its context
            raise (cause or error) from (error if cause else None)
        return self._results

    def close(self) -> None:
        """End the second process (its unfinished runs stop; their folders resume like any interrupted run)."""
        if self._trainer is not None:
            ray.kill(self._trainer)
            self._trainer = None
