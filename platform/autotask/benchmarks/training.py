"""Training throughput on the same data and model: a bare PyTorch loop over in-memory tensors, the same loop fed
by Ray Data, and the project's Ray Train path (make_trainer / train_loop_per_worker) with 1 and 2 workers.

Every in-process path runs `autotask.training.steps.train_epoch` (one loop, different batch sources); their epochs
are interleaved so that load from other processes hits them alike. Ray Train's per-epoch time is the slowest
worker's `shard_rows[*].train_seconds` (the epoch's batches and steps, without validation or checkpointing).
"""

from __future__ import annotations

import json
from pathlib import Path

from autotask.benchmarks.loops import Batches, bench_run
from autotask.benchmarks.stats import parallel_epoch
from autotask.config import RunConfig
from autotask.data.manifest import Manifest
from autotask.runtime.ray_trainer import make_trainer
from autotask.training.batches import FEATURES, TARGET, TASK_ID
from autotask.training.loop import minibatches
from autotask.training.steps import shuffle_seed


def ray_data_batches(dataset, run: RunConfig, device: str, epoch: int, per_step: bool = False) -> Batches:
    """Batches of one epoch from a materialised Ray Dataset: the training loop's chunked feed, or one Ray batch per
    step."""
    if per_step:  # the feed train_loop_per_worker used before: Ray batching/shuffling/conversion every step
        chunks = dataset.iter_torch_batches(batch_size=run.training.batch_size, device=device,
                                            local_shuffle_buffer_size=run.training.shuffle_buffer,
                                            local_shuffle_seed=shuffle_seed(run.seed, epoch))
        return ((b[FEATURES], b[TASK_ID], b[TARGET]) for b in chunks)
    batches = minibatches(dataset, run, device, epoch)
    return ((features, task_ids, targets) for features, task_ids, targets, _ in batches)


def ray_train_epochs(data: str, manifest: Manifest, datasets: dict, workers: int, epochs: int, storage: Path,
                     device: str = "cpu") -> list[tuple[int, float]]:
    """(rows over all workers, slowest worker's seconds) per epoch of one real Ray Train fit."""
    run = bench_run(data, epochs, workers, device)
    result = make_trainer(run, manifest, datasets, str(storage), {"pretrain": 0, "train": 0},  # batch_size fixed
                          name=f"bench_{workers}_workers").fit()
    if result.error is not None:
        raise RuntimeError(f"Ray Train benchmark with {workers} worker(s) failed: {result.error}") from result.error
    with result.checkpoint.as_directory() as directory:
        history = json.loads((Path(directory) / "state.json").read_text())["history"]
    return [parallel_epoch(epoch["shard_rows"]) for epoch in history]
