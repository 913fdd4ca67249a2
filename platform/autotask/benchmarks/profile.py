"""`--suite profile`: where one training epoch's time goes. The default AutoTask's eager step at batch 256 over the
simulated pre-training split, one warm-up epoch, then one epoch under torch.profiler (CPU, and CUDA when present);
the top operators by self time, so the next bottleneck is visible. Ray-free."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from autotask.benchmarks.loops import Feed, bench_run, default_model, in_memory_tensors, shuffled_batches
from autotask.benchmarks.steps import STEP_BATCH
from autotask.training.steps import train_epoch

TOP = 10


def profiled_epoch(tensors: dict, manifest, device: str) -> profile:
    """One warm-up epoch, then the profile of the next one."""
    feed = Feed(torch.get_num_threads(), partial(shuffled_batches, tensors, STEP_BATCH), device)
    model, optimizer, step = default_model(manifest, feed, bench_run("", 2))
    train_epoch(model, optimizer, feed.batches(0), loss=step)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as profiler:
        train_epoch(model, optimizer, feed.batches(1), loss=step)
        if device == "cuda":
            torch.cuda.synchronize()
    return profiler


def top_operators(profiler: profile, device: str, label: str, top: int = TOP) -> list[dict]:
    """The `top` operators by self time on `device` ("cpu" or "cuda"): ms, share of the epoch's self time, calls;
    `label` names the epoch (which device trained)."""
    attribute = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    events = [e for e in profiler.key_averages() if getattr(e, attribute) > 0]
    total = sum(getattr(e, attribute) for e in events) or 1.0
    ranked = sorted(events, key=lambda e: getattr(e, attribute), reverse=True)[:top]
    return [{"section": f"{label}, {device.upper()} time", "name": e.key, "self_ms": getattr(e, attribute) / 1000,
             "share": getattr(e, attribute) / total, "calls": e.count} for e in ranked]


def run_profile_suite(config, workdir: Path) -> dict:
    """The profile on simulated data (`config`: a BenchConfig; its rows size the epoch)."""
    from autotask.benchmarks.machine import machine_info
    from autotask.data.build import build_simulated
    from autotask.data.simulator import SimulatorConfig

    workdir = Path(workdir)
    report = build_simulated(SimulatorConfig(rows=config.rows, seed=0), workdir / "data").raise_if_invalid()
    tensors = in_memory_tensors(str(workdir / "data"), report.manifest, "cpu")
    rows = top_operators(profiled_epoch(tensors, report.manifest, "cpu"), "cpu", "CPU epoch")
    if torch.cuda.is_available():
        on_gpu = {key: value.cuda() for key, value in tensors.items()}
        profiler = profiled_epoch(on_gpu, report.manifest, "cuda")
        rows += top_operators(profiler, "cuda", "CUDA epoch") + top_operators(profiler, "cpu", "CUDA epoch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"machine": machine_info(device), "config": asdict(config), "rows": rows, "targets": []}
