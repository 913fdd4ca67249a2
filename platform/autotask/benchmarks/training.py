"""Training throughput on the same data and model: a bare PyTorch loop over in-memory tensors, the same loop fed
by Ray Data, and the project's Ray Train path (make_trainer / train_loop_per_worker) with 1 and 2 workers.

Every in-process path runs `autotask.training.steps.train_epoch` (one loop, different batch sources); their epochs
are interleaved so that load from other processes hits them alike. Ray Train's per-epoch time is the slowest
worker's `shard_rows[*].train_seconds` (the epoch's batches and steps, without validation or checkpointing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autotask.benchmarks.stats import parallel_epoch
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.training.batches import FEATURES, TARGET, TASK_ID, to_model_inputs
from autotask.training.config import RunConfig, TrainingConfig
from autotask.training.factory import build_model
from autotask.training.loop import minibatches
from autotask.training.ray_trainer import make_trainer
from autotask.training.steps import make_optimizer, train_epoch

SPLIT, SOFT = "pretrain", True  # the benchmark trains on the soft-label pre-training split, as epoch 1 does
Batches = Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass
class Feed:
    """One in-process path: its torch thread count and its batches for a given epoch."""

    threads: int
    batches: Callable[[int], Batches]


def bench_run(data: str, epochs: int, workers: int = 1, device: str = "cpu") -> RunConfig:
    """The default AutoTask run config, pre-training only for `epochs` epochs."""
    training = TrainingConfig(epochs_pretrain=epochs, epochs_finetune=0, workers=workers, use_gpu=device == "cuda")
    return RunConfig(data=data, model="autotask", seed=0, training=training)


def in_memory_tensors(data: str, manifest: Manifest, device: str) -> dict[str, torch.Tensor]:
    """The benchmark split's model inputs as tensors on `device` (read with pandas, no Ray)."""
    inputs = to_model_inputs(read_frame(data, splits=(SPLIT,)), manifest, soft=SOFT)
    return {key: torch.from_numpy(np.ascontiguousarray(inputs[key])).to(device) for key in (FEATURES, TASK_ID, TARGET)}


def shuffled_batches(tensors: dict[str, torch.Tensor], batch_size: int, epoch: int) -> Batches:
    """A fresh random permutation per epoch, cut into batches (the bare loop's data feed)."""
    order = torch.randperm(len(tensors[TARGET]), generator=torch.Generator().manual_seed(epoch))
    order = order.to(tensors[TARGET].device)
    for rows in order.split(batch_size):
        yield tensors[FEATURES][rows], tensors[TASK_ID][rows], tensors[TARGET][rows]


def ray_data_batches(dataset, run: RunConfig, device: str, per_step: bool = False) -> Batches:
    """Batches from a materialised Ray Dataset: the training loop's chunked feed, or one Ray batch per step."""
    if per_step:  # the feed train_loop_per_worker used before: Ray batching/shuffling/conversion every step
        chunks = dataset.iter_torch_batches(batch_size=run.training.batch_size, device=device,
                                            local_shuffle_buffer_size=run.training.shuffle_buffer,
                                            local_shuffle_seed=run.seed)
        return ((b[FEATURES], b[TASK_ID], b[TARGET]) for b in chunks)
    return ((features, task_ids, targets) for features, task_ids, targets, _ in minibatches(dataset, run, device))


def interleaved_epochs(feeds: dict[str, Feed], manifest: Manifest, rows: int, epochs: int, device: str
                       ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, torch.nn.Module]]:
    """(rows, seconds) per epoch for every feed, each training its own default AutoTask, epochs round-robin.

    Returns the timings and the trained models (by feed name).
    """
    run = bench_run("", epochs)
    models = {}
    for name in feeds:
        torch.manual_seed(run.seed)
        model = build_model(run.model, run.model_config, manifest).to(device)
        t = run.training
        models[name] = (model, make_optimizer(model, t.lr_facet1, t.lr_facet2, t.lr_head, t.weight_decay))
    timings: dict[str, list[tuple[int, float]]] = {name: [] for name in feeds}
    for epoch in range(epochs):
        for name, feed in feeds.items():
            torch.set_num_threads(feed.threads)
            started = time.perf_counter()
            train_epoch(*models[name], feed.batches(epoch))
            if device == "cuda":
                torch.cuda.synchronize()
            timings[name].append((rows, time.perf_counter() - started))
    return timings, {name: model for name, (model, _) in models.items()}


def ray_train_epochs(data: str, manifest: Manifest, datasets: dict, workers: int, epochs: int, storage: Path,
                     device: str = "cpu") -> list[tuple[int, float]]:
    """(rows over all workers, slowest worker's seconds) per epoch of one real Ray Train fit."""
    run = bench_run(data, epochs, workers, device)
    result = make_trainer(run, manifest, datasets, str(storage), name=f"bench_{workers}_workers").fit()
    if result.error is not None:
        raise RuntimeError(f"Ray Train benchmark with {workers} worker(s) failed: {result.error}") from result.error
    with result.checkpoint.as_directory() as directory:
        history = json.loads((Path(directory) / "state.json").read_text())["history"]
    return [parallel_epoch(epoch["shard_rows"]) for epoch in history]
