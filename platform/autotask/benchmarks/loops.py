"""Ray-free training loops for the benchmarks: in-memory tensors, shuffled batches, epochs interleaved across feeds
(the GPU suite runs on machines without Ray)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from autotask.config import RunConfig, TrainingConfig
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.models.registry import build_model, get_kind, learning_rates
from autotask.training.batches import FEATURES, TARGET, TASK_ID, to_model_inputs
from autotask.training.steps import LossModule, compiled_step, make_optimizer, train_epoch

SPLIT, SOFT = "pretrain", True  # the benchmark trains on the soft-label pre-training split, as epoch 1 does
Batches = Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass
class Feed:
    """One in-process path: its torch thread count, its batches for a given epoch, and the device it trains on."""

    threads: int
    batches: Callable[[int], Batches]
    device: str = "cpu"
    compiled: bool = False  # torch.compile of the step
    autocast: torch.dtype | None = None  # bf16 autocast of the forward pass
    lr_scale: float = 1.0  # learning rates x this (large batches)
    fused: bool = True  # the fused Adam update (make_optimizer's default); False: Adam's loop over tensors


def bench_run(data: str, epochs: int, workers: int = 1, device: str = "cpu") -> RunConfig:
    """The default AutoTask run config, pre-training only for `epochs` epochs."""
    training = TrainingConfig(epochs_pretrain=epochs, epochs_finetune=0, workers=workers, use_gpu=device == "cuda")
    return RunConfig(data=data, model="autotask", seed=0, training=training)


def in_memory_tensors(data: str, manifest: Manifest, device: str, split: str = SPLIT) -> dict[str, torch.Tensor]:
    """A split's model inputs as tensors on `device` (read with pandas, no Ray); soft labels for the pool."""
    inputs = to_model_inputs(read_frame(data, splits=(split,)), manifest, soft=split == SPLIT)
    return {key: torch.from_numpy(np.ascontiguousarray(inputs[key])).to(device) for key in (FEATURES, TASK_ID, TARGET)}


def shuffled_batches(tensors: dict[str, torch.Tensor], batch_size: int, epoch: int) -> Batches:
    """A fresh random permutation per epoch, cut into batches (the bare loop's data feed)."""
    order = torch.randperm(len(tensors[TARGET]), generator=torch.Generator().manual_seed(epoch))
    order = order.to(tensors[TARGET].device)
    for rows in order.split(batch_size):
        yield tensors[FEATURES][rows], tensors[TASK_ID][rows], tensors[TARGET][rows]


def default_model(manifest: Manifest, feed: Feed, run: RunConfig) -> tuple[torch.nn.Module, torch.optim.Optimizer,
                                                                           torch.nn.Module]:
    """The run's default model on the feed's device (seeded), its optimizer and its training step as the feed asks."""
    torch.manual_seed(run.seed)
    model = build_model(run.model, run.model_config, manifest).to(feed.device)
    rates = {group: rate * feed.lr_scale for group, rate in learning_rates(get_kind(run.model), run.training).items()}
    step = compiled_step(LossModule(model, feed.autocast), feed.compiled)
    return model, make_optimizer(model, rates, run.training.weight_decay, feed.fused), step


def interleaved_epochs(feeds: dict[str, Feed], manifest: Manifest, rows: int, epochs: int
                       ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, torch.nn.Module]]:
    """(rows, seconds) per epoch for every feed, each training its own default AutoTask, epochs round-robin.

    Returns the timings and the trained models (by feed name).
    """
    run = bench_run("", epochs)
    models = {name: default_model(manifest, feed, run) for name, feed in feeds.items()}
    timings: dict[str, list[tuple[int, float]]] = {name: [] for name in feeds}
    for epoch in range(epochs):
        for name, feed in feeds.items():
            timings[name].append((rows, timed_epoch(feed, *models[name], epoch)))
    return timings, {name: model for name, (model, _, _) in models.items()}


def timed_epoch(feed: Feed, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.nn.Module,
                epoch: int) -> float:
    """Seconds of one training epoch of `feed` (its thread count set, CUDA synchronised before the clock stops)."""
    torch.set_num_threads(feed.threads)
    started = time.perf_counter()
    train_epoch(model, optimizer, feed.batches(epoch), loss=loss)
    if feed.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started
