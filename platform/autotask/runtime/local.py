"""A 1-worker CPU run trains in the command's own process: the same loop, no Ray Train controller or worker group.

Ray Train's fixed cost (controller, worker group, placement group: about 20 s here) dominates a small run. A run
with one CPU worker gains nothing from it, so it runs `train_loop_per_worker` in the driver on the materialised Ray
datasets, with its checkpoints in RUN_DIR/ray/local (every epoch, so an interrupted run resumes from its last epoch
like a Ray Train run does). Multi-worker and GPU runs keep Ray Train.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import ray
import torch

from autotask.config import RunConfig
from autotask.data.manifest import Manifest
from autotask.models.language import language_width, reads_language
from autotask.models.registry import get_kind
from autotask.progress import epoch_summary
from autotask.runtime.loop_sessions import RaySession, TrialSession
from autotask.runtime.ray_data import MATERIALIZE_BELOW_ROWS, training_datasets
from autotask.runtime.ray_trainer import loop_config
from autotask.training.feeds import read_memory_splits
from autotask.training.loop import train_loop_per_worker

LOCAL_NAME = "local"  # RUN_DIR/ray/local: the in-process run's checkpoints
LATEST = "latest"
EXECUTIONS = ("in-process", "ray-train")  # how a run trained: recorded in config.json's provenance
FEEDS = ("memory", "ray-data")  # where its loop read its rows from: recorded beside it
# The most float32 model-input bytes an in-process run holds in memory (its splits, read in one piece: the peak while
# reading is a few times this); more goes through Ray Data, whose object store spills to disk.
MEMORY_FEED_MAX_BYTES = 1 << 30


def execution(run: RunConfig, storage: str | None = None) -> str:
    """'in-process' for a 1-worker CPU torch run whose checkpoints stay local, else 'ray-train' (a shared --storage
    is Ray Train's job; LightGBM runs as one Ray task either way)."""
    in_process = get_kind(run.model).is_torch and run.training.workers == 1 and not run.training.use_gpu
    return EXECUTIONS[0] if in_process and not storage else EXECUTIONS[1]


def feed(run: RunConfig, manifest: Manifest, row_counts: dict[str, int], storage: str | None = None) -> str:
    """'memory' for an in-process run on data small enough to materialise (training.feeds: under 2M rows, and at most
    MEMORY_FEED_MAX_BYTES of float32 model inputs, text embeddings included) unless its config asks for Ray Data
    (`feed = "ray-data"`), else 'ray-data'."""
    rows = sum(row_counts.values())
    width = manifest.d + language_width(run.model_config, manifest)
    small = rows < MATERIALIZE_BELOW_ROWS and rows * width * 4 <= MEMORY_FEED_MAX_BYTES
    chosen = run.training.feed == "auto" and execution(run, storage) == EXECUTIONS[0] and small
    return FEEDS[0] if chosen else FEEDS[1]


def run_datasets(run: RunConfig, manifest: Manifest, row_counts: dict[str, int], storage: str | None = None) -> dict:
    """The datasets the run's loop reads, by its `feed`."""
    language = reads_language(run.model_config)
    if feed(run, manifest, row_counts, storage) == FEEDS[0]:
        return read_memory_splits(run.data, manifest, language, run.training.pool_in_finetune)
    return training_datasets(run.data, manifest, row_counts, language, run.training.pool_in_finetune)


class LocalSession(TrialSession):
    """The loop's runtime in the driver: whole datasets and CPU as in a Tune trial's process, but checkpoints in a
    folder and epochs to a progress display instead of Tune."""

    def __init__(self, datasets: dict, root: Path, on_epoch=None):
        super().__init__(datasets)
        self.root = root
        self.on_epoch = on_epoch

    @staticmethod
    def node_id() -> str:
        """Ray's node id when Ray runs here, else this host's name (a run fed from memory starts no Ray)."""
        return RaySession.node_id() if ray.is_initialized() else f"local:{socket.gethostname()}"

    def latest(self) -> Path | None:
        """The last complete checkpoint (a crash between the two renames of `report` leaves it as `previous`)."""
        for name in (LATEST, "previous"):
            if (self.root / name / "state.json").exists():
                return self.root / name
        return None

    def get_checkpoint(self):
        latest = self.latest()
        return self.checkpoint(str(latest)) if latest else None

    def report(self, metrics: dict, checkpoint=None) -> None:
        if checkpoint is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            staging, previous = self.root / "staging", self.root / "previous"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(checkpoint.path, staging)
            shutil.rmtree(previous, ignore_errors=True)
            if (self.root / LATEST).exists():
                (self.root / LATEST).rename(previous)
            staging.rename(self.root / LATEST)
            shutil.rmtree(previous, ignore_errors=True)
        if self.on_epoch is not None and "epoch" in metrics:
            self.on_epoch(epoch_summary(metrics))


def fit_in_process(run: RunConfig, manifest: Manifest, datasets: dict, row_counts: dict[str, int], run_dir: Path,
                   progress=None) -> Path:
    """Train (or resume) in this process; returns the folder of the final checkpoint (best_model.pt, state.json)."""
    on_epoch = None
    if progress is not None:
        progress.training_started(run.run_name, run.training.epochs_pretrain + run.training.epochs_finetune)
        on_epoch = lambda summary: progress.epoch(run.run_name, summary)  # noqa: E731
    session = LocalSession(datasets, run_dir / "ray" / LOCAL_NAME, on_epoch)
    threads = torch.get_num_threads()
    try:
        train_loop_per_worker(loop_config(run, manifest, row_counts), session)
    finally:
        torch.set_num_threads(threads)  # the loop sets the worker's thread count
    if progress is not None:
        progress.note(run.run_name, "scoring")
    return session.latest()
