"""The whole benchmark: simulated data, training paths, serving forms, targets; returns one result dict."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

from autotask.benchmarks import targets
from autotask.benchmarks.config import BenchConfig
from autotask.benchmarks.inference import InferencePlan, inference_rows
from autotask.benchmarks.loops import Feed, bench_run, in_memory_tensors, interleaved_epochs, shuffled_batches
from autotask.benchmarks.machine import machine_info
from autotask.benchmarks.stats import steady_rows_per_s
from autotask.benchmarks.training import ray_data_batches, ray_train_epochs
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.runtime.driver import start_cluster
from autotask.runtime.ray_data import training_datasets
from autotask.runtime.ray_trainer import threads_per_worker
from autotask.training.batches import FEATURES, TARGET, TASK_ID

BARE = "bare PyTorch loop"


def training_feeds(tensors: dict, dataset, config: BenchConfig) -> dict[str, Feed]:
    """The in-process paths: the bare loop at 1 thread and at torch's default, and the two Ray Data feeds."""
    run = bench_run("", config.epochs)
    bare = partial(shuffled_batches, tensors, run.training.batch_size)
    device = config.device
    return {
        f"{BARE}, 1 thread": Feed(1, bare, device),
        f"{BARE}, {os.cpu_count()} threads": Feed(os.cpu_count() or 1, bare, device),
        "Ray Data feed (as the Train loop now)": Feed(1, lambda epoch: ray_data_batches(dataset, run, device, epoch),
                                                       device),
        "Ray Data feed, a Ray batch per step (before)": Feed(
            1, lambda epoch: ray_data_batches(dataset, run, device, epoch, per_step=True), device),
    }


def training_rows(data: Path, manifest, counts: dict, config: BenchConfig, workdir: Path) -> tuple[list, dict]:
    """Steady-state rows/s of every training path, with ratios to the faster bare loop; and the inputs used."""
    datasets = training_datasets(str(data), manifest, counts)
    tensors = in_memory_tensors(str(data), manifest, config.device)
    feeds = training_feeds(tensors, datasets["pretrain"], config)
    timings, models = interleaved_epochs(feeds, manifest, len(tensors[TARGET]), config.epochs)
    rows = [{"section": "training", "name": name, "threads": str(feed.threads),
             "rows_per_s": steady_rows_per_s(timings[name])} for name, feed in feeds.items()]
    for workers in (1, 2):
        if config.device == "cuda" and workers > 1:
            continue  # one GPU per worker: a second worker needs a second GPU
        epochs = ray_train_epochs(str(data), manifest, datasets, workers, config.epochs, workdir / "ray", config.device)
        threads = threads_per_worker(bench_run(str(data), config.epochs, workers))
        rows.append({"section": "training", "name": f"Ray Train, {workers} worker{'s' * (workers > 1)}",
                     "threads": f"{threads} per worker", "rows_per_s": steady_rows_per_s(epochs)})
    reference = max(row["rows_per_s"] for row in rows if row["name"].startswith(BARE))
    for row in rows:
        row["ratio"] = row["rows_per_s"] / reference
    first_model = models[next(iter(models))]
    return rows, {"model": first_model, "features": tensors[FEATURES], "task_ids": tensors[TASK_ID]}


def run_benchmarks(config: BenchConfig, workdir: Path) -> dict:
    """Every section of the benchmark; the result holds the machine, the config, the rows and the targets."""
    workdir = Path(workdir)
    machine = machine_info(config.device)
    clock = Clock()
    report = build_simulated(SimulatorConfig(rows=config.rows, seed=0), workdir / "data").raise_if_invalid()
    counts = report.summary.groupby("split")["rows"].sum().to_dict()
    start_cluster()
    clock.lap("data and Ray start")
    rows, trained = training_rows(workdir / "data", report.manifest, counts, config, workdir)
    clock.lap("training")
    features = trained["features"][:20_000].cpu().numpy()
    task_ids = trained["task_ids"][:20_000].cpu().numpy()
    rows += inference_rows(trained["model"], features, task_ids, workdir / "serving", InferencePlan.of(config))
    clock.lap("inference")
    if config.device == "cpu":
        rows.append({"section": "gpu", "name": "GPU path", "note": "not measured: no GPU in this session"})
    return {"machine": machine, "config": asdict(config), "rows": rows, "targets": targets.check(rows),
            "phase_seconds": clock.laps}


class Clock:
    """Wall-clock seconds per benchmark phase."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 1)
        self.last = now
