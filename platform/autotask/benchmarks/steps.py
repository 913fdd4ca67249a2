"""The training step's forms and batch sizes, Ray-free (part of `--suite gpu`, measured on CPU too).

- Step forms: eager fp32 against torch.compile and bf16 autocast at batch 256, epochs interleaved in one process, so
  the ratios come from one run; the first epoch (compilation, warm-up) is reported on its own.
- Batch sizes 256 to 16384 with the learning rate scaled by sqrt(batch / 256), each trained until its validation
  AUC stops improving: rows/s, the epochs and seconds it needs, and the test AUC it reaches there (a faster step is
  worth nothing if the model gets worse, and a large batch takes fewer steps per epoch).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch

from autotask.benchmarks.loops import (
    Feed,
    bench_run,
    default_model,
    in_memory_tensors,
    interleaved_epochs,
    shuffled_batches,
    timed_epoch,
)
from autotask.benchmarks.stats import steady_rows_per_s
from autotask.data.manifest import Manifest
from autotask.evaluation.selection import mean_seen_roc_auc
from autotask.training.batches import FEATURES, TARGET, TASK_ID
from autotask.training.steps import predict

STEP_BATCH = 256  # the training default
AUC_BATCHES = (256, 1024, 4096, 16384)
AUC_MAX_EPOCHS = 200  # a batch size's most epochs in the batch-size table (16384 rows: 4 steps an epoch here)
AUC_PATIENCE = 10  # epochs without a better validation AUC before a batch size stops


def step_forms(device: str) -> dict[str, dict]:
    """Feed settings of every step form measured on `device`. Compiled bf16 is CUDA's form; on CPU it compiled for
    ~3 minutes on 2 cores to run at 0.4x eager (one quick run), so the CPU table leaves it out."""
    forms = {"eager fp32": {}, "eager fp32, Adam's loop over tensors": {"fused": False},
             "compiled fp32": {"compiled": True}, "eager bf16": {"autocast": torch.bfloat16}}
    if device == "cuda":
        forms["compiled bf16"] = {"compiled": True, "autocast": torch.bfloat16}
    return {f"{name}, {device.upper()}": settings for name, settings in forms.items()}


def step_rows(train: dict, manifest: Manifest, device: str, epochs: int) -> list[dict]:
    """Rows/s of each step form at batch 256 (ratio: over eager fp32 on the same device) and its first epoch's
    seconds (compilation included)."""
    threads = feed_threads(device)
    feeds = {name: Feed(threads, partial(shuffled_batches, train, STEP_BATCH), device, **settings)
             for name, settings in step_forms(device).items()}
    timings, _ = interleaved_epochs(feeds, manifest, len(train[TARGET]), max(epochs, 2))
    base = steady_rows_per_s(timings[next(iter(feeds))])
    return [{"section": "training step", "name": f"{name}, batch {STEP_BATCH}", "threads": str(threads),
             "rows_per_s": steady_rows_per_s(timings[name]), "ratio": steady_rows_per_s(timings[name]) / base,
             "first_epoch_s": timings[name][0][1], "note": "x eager fp32; first epoch includes compilation"}
            for name in feeds]


@dataclass
class _Curve:
    """One batch size's training so far: its model, epoch seconds and validation / test AUC after each epoch."""

    feed: Feed
    trained: tuple  # (model, optimizer, loss step) from default_model
    seconds: list[float] = field(default_factory=list)
    valid: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    @property
    def best(self) -> int:
        """Index of the epoch with the best validation AUC (the first, on ties)."""
        return max(range(len(self.valid)), key=lambda i: (self.valid[i], -i))

    def done(self, max_epochs: int, patience: int) -> bool:
        epochs = len(self.valid)
        return epochs >= max_epochs or (epochs > 0 and epochs - 1 - self.best >= patience)


def _seen_auc(model, split: dict) -> float:
    scores = predict(model, split[FEATURES].cpu().numpy(), split[TASK_ID].cpu().numpy())[model.selection_score]
    return mean_seen_roc_auc(split[TARGET].cpu().numpy(), scores, split[TASK_ID].cpu().numpy())


def batch_auc_rows(train: dict, valid: dict, test: dict, manifest: Manifest, device: str, max_epochs: int,
                   patience: int = AUC_PATIENCE) -> list[dict]:
    """The AUC each batch size reaches: every size trained until its validation AUC has not improved for `patience`
    epochs (at most `max_epochs`), learning rate x sqrt(batch / 256), epochs round-robin across the sizes still
    training. Per size: rows/s, the epoch chosen on validation, the training seconds to it, and the seen test AUC
    there (`auc_vs_256`: its difference from batch 256's). On CUDA through the compiled bf16 step, on CPU the eager
    one (what `auto` runs there)."""
    threads = feed_threads(device)
    on_cuda = device == "cuda"
    run = bench_run("", max_epochs)
    curves = {}
    for size in AUC_BATCHES:
        feed = Feed(threads, partial(shuffled_batches, train, size), device, compiled=on_cuda,
                    autocast=torch.bfloat16 if on_cuda else None, lr_scale=math.sqrt(size / STEP_BATCH))
        curves[f"batch {size}, {device.upper()}"] = _Curve(feed, default_model(manifest, feed, run))
    for epoch in range(max_epochs):
        for curve in (c for c in curves.values() if not c.done(max_epochs, patience)):
            torch.manual_seed(epoch)  # each size's random draws its own, whichever sizes still train
            curve.seconds.append(timed_epoch(curve.feed, *curve.trained, epoch))
            curve.valid.append(_seen_auc(curve.trained[0], valid))
            curve.test.append(_seen_auc(curve.trained[0], test))
    rows = []
    for name, curve in curves.items():
        best, rows_per_epoch = curve.best, len(train[TARGET])
        rows.append({"section": "batch size", "name": name, "threads": str(threads),
                     "rows_per_s": steady_rows_per_s([(rows_per_epoch, s) for s in curve.seconds]),
                     "epochs": best + 1, "seconds_to_best": sum(curve.seconds[:best + 1]),
                     "valid_roc_auc": curve.valid[best], "test_roc_auc": curve.test[best],
                     "note": f"best of {len(curve.valid)} epochs on validation (patience {patience}, at most "
                             f"{max_epochs}), lr x sqrt(batch/256)"})
    for row in rows:
        row["auc_vs_256"] = row["test_roc_auc"] - rows[0]["test_roc_auc"]
    return rows


def feed_threads(device: str) -> int:
    """torch threads of a feed: every core for the CPU, one for CUDA."""
    return (os.cpu_count() or 1) if device == "cpu" else 1


def step_suite_rows(data: Path, manifest: Manifest, epochs: int, auc_epochs: int) -> list[dict]:
    """The step forms on the CPU (and CUDA when present), then the batch-size table on the fastest device."""
    train = in_memory_tensors(str(data), manifest, "cpu")
    valid, test = (in_memory_tensors(str(data), manifest, "cpu", split=split) for split in ("valid", "test"))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        on_device = {key: value.to(device) for key, value in train.items()}
        rows += step_rows(on_device, manifest, device, epochs)
    on_device = {key: value.to(devices[-1]) for key, value in train.items()}
    return rows + batch_auc_rows(on_device, valid, test, manifest, devices[-1], auc_epochs)
