"""Inference: single-row latency (block size 1, one thread) and batch throughput, per serving form."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autotask.benchmarks.stats import latency_ms
from autotask.serving.export import export_model
from autotask.serving.runtime import eager_predictor, load_predictor

FORMS = ("eager", "torchscript", "onnx")
SUFFIX = {"torchscript": ".pt", "onnx": ".onnx"}


@dataclass(frozen=True)
class InferencePlan:
    """How each serving form is measured: where, how many single-row calls, and the batch throughput's shape."""

    device: str
    calls: int  # single-row latency calls (after a warm-up)
    batch_rows: int  # rows per batch for throughput
    min_seconds: float  # throughput is measured for at least this long
    batch_threads: int = 2  # threads for throughput (latency uses 1)

    @classmethod
    def of(cls, config, device: str | None = None) -> InferencePlan:
        """From a BenchConfig's sizes, on its device unless `device` is given."""
        return cls(device or config.device, config.latency_calls, config.batch_rows, config.throughput_seconds)


def make_predictor(form: str, model: nn.Module, artefacts: dict[str, Path], threads: int, device: str):
    """An eager predictor over `model`, or one loading the form's exported artefact."""
    if form == "eager":
        return eager_predictor(model, threads, device)
    return load_predictor(artefacts[form], threads, device)


def export_forms(model: nn.Module, workdir: Path) -> dict[str, Path]:
    """Every exported serving artefact of `model`, written under workdir."""
    return {form: export_model(model, workdir / f"serving{suffix}", form) for form, suffix in SUFFIX.items()}


def single_row_latency(predictor, features: np.ndarray, task_ids: np.ndarray, calls: int, warmup: int = 50
                       ) -> dict[str, float]:
    """p50/p99 of one-row requests, cycling through the given rows."""
    seconds = []
    for i in range(warmup + calls):
        row = i % len(task_ids)
        started = time.perf_counter()
        predictor(features[row:row + 1], task_ids[row:row + 1])
        if i >= warmup:
            seconds.append(time.perf_counter() - started)
    return latency_ms(seconds)


def batch_throughput(predictor, features: np.ndarray, task_ids: np.ndarray, batch_rows: int, min_seconds: float,
                     warmup: int = 5) -> float:
    """Rows per second over consecutive batches of `batch_rows`, for at least `min_seconds` after a warm-up.

    The warm-up calls matter for TorchScript, whose profiling executor re-optimises for each new input shape.
    """
    starts = range(0, max(len(task_ids) - batch_rows, 0) + 1, batch_rows)
    for _ in range(warmup):
        predictor(features[:batch_rows], task_ids[:batch_rows])
    rows, started = 0, time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        for start in starts:
            predictor(features[start:start + batch_rows], task_ids[start:start + batch_rows])
            rows += len(task_ids[start:start + batch_rows])
    return rows / (time.perf_counter() - started)


def max_abs_difference(predictor, reference, features: np.ndarray, task_ids: np.ndarray) -> float:
    """Largest |probability difference| between two predictors on the same rows."""
    return float(np.max(np.abs(predictor(features, task_ids) - reference(features, task_ids))))


def inference_rows(model: nn.Module, features: np.ndarray, task_ids: np.ndarray, workdir: Path, plan: InferencePlan
                   ) -> list[dict]:
    """One row per serving form: latency on 1 thread, throughput on `plan.batch_threads`, max |diff| to eager."""
    model = model.cpu().eval()
    artefacts = export_forms(model, workdir)
    reference = eager_predictor(model, 1, "cpu")
    rows = []
    for form in FORMS:
        try:
            single = make_predictor(form, model, artefacts, 1, plan.device)
        except RuntimeError as exc:  # e.g. onnxruntime without its CUDA provider
            rows.append({"section": "inference", "name": form, "note": f"not measured on {plan.device}: {exc}"})
            continue
        latency = single_row_latency(single, features, task_ids, plan.calls)
        difference = max_abs_difference(single, reference, features[:4096], task_ids[:4096])
        batched = make_predictor(form, model, artefacts, plan.batch_threads, plan.device)
        throughput = batch_throughput(batched, features, task_ids, plan.batch_rows, plan.min_seconds)
        rows.append({"section": "inference", "name": form, "threads": f"1 / {plan.batch_threads}", **latency,
                     "rows_per_s": throughput, "max_abs_diff": difference,
                     "note": f"latency: 1 row, 1 thread; rows/s: {plan.batch_rows}-row batches, "
                             f"{plan.batch_threads} threads"})
    torch.set_num_threads(plan.batch_threads)
    return rows
