"""The training step's forms and batch sizes, Ray-free (part of `--suite gpu`, measured on CPU too).

- Step forms: eager fp32 against torch.compile and bf16 autocast at batch 256, epochs interleaved in one process, so
  the ratios come from one run; the first epoch (compilation, warm-up) is reported on its own.
- Batch sizes 256 to 16384 with the learning rate scaled by sqrt(batch / 256): rows/s and the validation ROC AUC
  each reaches in the same number of epochs (a faster step is worth nothing if the model gets worse).
"""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path

import torch

from autotask.benchmarks.loops import Feed, in_memory_tensors, interleaved_epochs, shuffled_batches
from autotask.benchmarks.stats import steady_rows_per_s
from autotask.data.manifest import Manifest
from autotask.evaluation.selection import mean_seen_roc_auc
from autotask.training.batches import FEATURES, TARGET, TASK_ID
from autotask.training.steps import predict

STEP_BATCH = 256  # the training default
AUC_BATCHES = (256, 1024, 4096, 16384)
MIN_AUC_EPOCHS = 8


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


def batch_auc_rows(train: dict, valid: dict, manifest: Manifest, device: str, epochs: int) -> list[dict]:
    """Rows/s and validation ROC AUC after `epochs` epochs at each batch size, learning rate x sqrt(batch / 256);
    on CUDA through the compiled bf16 step, on CPU the eager one (what `auto` runs there)."""
    threads = feed_threads(device)
    on_cuda = device == "cuda"
    feeds = {f"batch {size}, {device.upper()}": Feed(threads, partial(shuffled_batches, train, size), device,
                                                     compiled=on_cuda, autocast=torch.bfloat16 if on_cuda else None,
                                                     lr_scale=math.sqrt(size / STEP_BATCH))
             for size in AUC_BATCHES}
    timings, models = interleaved_epochs(feeds, manifest, len(train[TARGET]), epochs)
    rows = []
    for name, model in models.items():
        scores = predict(model, valid[FEATURES].cpu().numpy(), valid[TASK_ID].cpu().numpy())[model.selection_score]
        auc = mean_seen_roc_auc(valid[TARGET].cpu().numpy(), scores, valid[TASK_ID].cpu().numpy())
        rows.append({"section": "batch size", "name": name, "threads": str(threads),
                     "rows_per_s": steady_rows_per_s(timings[name]), "valid_roc_auc": auc,
                     "note": f"{epochs} epochs, lr x sqrt(batch/256)"})
    first_auc = rows[0]["valid_roc_auc"]
    for row in rows:
        row["auc_vs_256"] = row["valid_roc_auc"] - first_auc
    return rows


def feed_threads(device: str) -> int:
    """torch threads of a feed: every core for the CPU, one for CUDA."""
    return (os.cpu_count() or 1) if device == "cpu" else 1


def step_suite_rows(data: Path, manifest: Manifest, epochs: int, auc_epochs: int) -> list[dict]:
    """The step forms on the CPU (and CUDA when present), then the batch-size table on the fastest device."""
    train = in_memory_tensors(str(data), manifest, "cpu")
    valid = in_memory_tensors(str(data), manifest, "cpu", split="valid")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        on_device = {key: value.to(device) for key, value in train.items()}
        rows += step_rows(on_device, manifest, device, epochs)
    on_device = {key: value.to(devices[-1]) for key, value in train.items()}
    return rows + batch_auc_rows(on_device, valid, manifest, devices[-1], auc_epochs)
