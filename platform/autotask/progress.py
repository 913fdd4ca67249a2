"""What a long job shows while it runs: which run (i of n) and for how long, and the current run's training (stage,
epoch, validation AUC, rows/s).

On a terminal: a rich live display, redrawn in place. Into a file or a pipe: plain lines, one when a run starts, one
per epoch and one when a run ends. Per-epoch numbers come from Ray Train's workers: `EpochCallback` runs in the Ray
Train controller and forwards rank 0's metrics to a small actor that the driver polls (`Progress.watch_training`).
"""

from __future__ import annotations

import contextlib
import threading
import time

import ray
import ray.train
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

POLL_SECONDS = 0.5


def epoch_summary(metrics: dict) -> dict:
    """The numbers shown for one epoch, from a worker's `ray.train.report` metrics (training/loop.py)."""
    shards = metrics.get("shard_rows") or []
    rows = sum(shard.get("rows", 0) for shard in shards)
    seconds = max((shard.get("train_seconds", 0.0) for shard in shards), default=0.0)
    return {"epoch": int(metrics["epoch"]), "stage": metrics.get("stage", ""), "auc": metrics.get("valid_roc_auc"),
            "best": metrics.get("best_valid_roc_auc"), "rows_per_s": rows / seconds if seconds > 0 else None}


def describe_epoch(summary: dict, epochs: int | None) -> str:
    """'finetune epoch 12/40 · valid AUC 0.8731 (best 0.8744) · 41,200 rows/s'"""
    text = f"{summary['stage']} epoch {summary['epoch'] + 1}" + (f"/{epochs}" if epochs else "")
    if summary.get("auc") is not None:
        text += f" · valid AUC {summary['auc']:.4f}"
        if summary.get("best") is not None and summary["best"] > summary["auc"]:
            text += f" (best {summary['best']:.4f})"
    if summary.get("rows_per_s"):
        text += f" · {summary['rows_per_s']:,.0f} rows/s"
    return text


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class RunProgress:
    """Progress of `total` runs, as a context manager; `live` defaults to whether the console is a terminal.

    Live: one row for all runs (i of n, elapsed) when there are several, and one row per running run (stage, epoch,
    validation AUC, rows/s, elapsed); a finished run leaves one line above the display. Plain: the same start, end
    and per-epoch events as lines.
    """

    def __init__(self, console: Console, total: int = 1, live: bool | None = None):
        self.console = console
        self.total = total
        self.live = console.is_terminal if live is None else live
        self.started: dict[str, tuple[int, float]] = {}  # label -> (number, start time)
        self.tasks: dict[str, int] = {}
        self.epochs: dict[str, int | None] = {}
        self.finished = 0
        self._lock = threading.RLock()
        self._bar = self._overall = None
        if self.live:
            self._bar = Progress(SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"),
                                 BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"), console=console, refresh_per_second=4)

    def __enter__(self) -> RunProgress:
        if self._bar is not None:
            self._bar.start()
            self.expect(self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def expect(self, total: int) -> None:
        """The number of runs this job will train (a study skips its finished runs)."""
        with self._lock:
            self.total = total
            if self._bar is None or total <= 1:
                return
            if self._overall is None:
                self._overall = self._bar.add_task("runs", total=total, info="")
            self._bar.update(self._overall, total=total, completed=self.finished)

    def _name(self, label: str) -> str:
        number = self.started[label][0]
        return label if self.total <= 1 else f"run {number}/{self.total} {label}"

    def run_started(self, label: str) -> None:
        with self._lock:
            self.started[label] = (len(self.started) + 1, time.perf_counter())
            if self._bar is not None:
                self.tasks[label] = self._bar.add_task(self._name(label), total=None, info="starting")
            else:
                self.console.print(f"{self._name(label)}: started", highlight=False)

    def training_started(self, label: str, epochs: int | None) -> None:
        with self._lock:
            self.epochs[label] = epochs
            if self._bar is not None and label in self.tasks:
                self._bar.update(self.tasks[label], total=epochs, completed=0, info="training")

    def epoch(self, label: str, summary: dict) -> None:
        with self._lock:
            text = describe_epoch(summary, self.epochs.get(label))
            if self._bar is not None:
                if label in self.tasks:
                    self._bar.update(self.tasks[label], completed=summary["epoch"] + 1, info=text)
                return
            elapsed = time.perf_counter() - self.started[label][1] if label in self.started else 0.0
            self.console.print(f"  {label}: {text} · {_clock(elapsed)}", highlight=False)

    def note(self, label: str, info: str) -> None:
        """A step of a run with no epochs (scoring, LightGBM fitting): shown on a terminal only."""
        with self._lock:
            if self._bar is not None and label in self.tasks:
                self._bar.update(self.tasks[label], info=info)

    def run_finished(self, label: str, info: str = "") -> None:
        with self._lock:
            self.finished += 1
            elapsed = time.perf_counter() - self.started[label][1]
            line = f"{self._name(label)}: done in {_clock(elapsed)}" + (f" · {info}" if info else "")
            if self._bar is not None:
                self._bar.remove_task(self.tasks.pop(label))
                if self._overall is not None:
                    self._bar.update(self._overall, completed=self.finished)
                self._bar.console.print(f"[green]✓[/green] {line}", highlight=False)
            else:
                self.console.print(line, highlight=False)

    @contextlib.contextmanager
    def watch_training(self, label: str, epochs: int | None):
        """Yields the Ray Train callback to pass to the trainer; while the block runs, its per-epoch metrics show up
        here (polled from a small actor on the driver's node)."""
        self.training_started(label, epochs)
        inbox = _Inbox.options(num_cpus=0).remote()
        stop = threading.Event()

        def forward() -> None:
            for summary in ray.get(inbox.take.remote()):
                self.epoch(label, summary)

        def poll() -> None:
            while not stop.wait(POLL_SECONDS):
                with contextlib.suppress(Exception):  # a display must never fail the run
                    forward()

        thread = threading.Thread(target=poll, name="autotask-progress", daemon=True)
        thread.start()
        try:
            yield EpochCallback(inbox)
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(Exception):
                forward()
                ray.kill(inbox)
            self.note(label, "scoring")


@ray.remote(num_cpus=0)
class _Inbox:
    """Per-epoch summaries on their way from the Ray Train controller to the driver."""

    def __init__(self):
        self.items: list[dict] = []

    def put(self, item: dict) -> None:
        self.items.append(item)

    def take(self) -> list[dict]:
        items, self.items = self.items, []
        return items


class EpochCallback(ray.train.UserCallback):
    """Runs in the Ray Train controller: after every report, rank 0's epoch summary goes to the driver's inbox."""

    def __init__(self, inbox):
        self.inbox = inbox

    def after_report(self, run_context, metrics, checkpoint) -> None:
        if metrics and "epoch" in metrics[0]:
            self.inbox.put.remote(epoch_summary(metrics[0]))
