"""The large-data suite: the simulator's partitioned dataset (10M rows by default) trained with 1 and 2 workers,
streamed from Parquet by Ray Data, with rows/s per stage and peak memory of the driver, the Ray worker processes
and the object store."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from autotask.benchmarks.machine import machine_info
from autotask.benchmarks.memory import MemorySampler
from autotask.benchmarks.stats import parallel_epoch
from autotask.config import RunConfig, TrainingConfig
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.runtime import ray_data
from autotask.runtime.driver import start_cluster
from autotask.runtime.run import train_run

WORKER_COUNTS = (1, 2)
READER_ROUNDS = 2


def large_run(data: Path, workers: int) -> RunConfig:
    """One epoch of each stage, 1024-row batches."""
    training = TrainingConfig(epochs_pretrain=1, epochs_finetune=1, batch_size=1024, workers=workers, patience=0)
    return RunConfig(data=str(data), model="autotask", seed=0, training=training)


def measured_run(data: Path, run_dir: Path, label: str, workers: int) -> list[dict]:
    """Train once, from scratch (a finished run in RUN_DIR would be reused, so it is removed first): a row per stage
    (rows/s over the slowest worker) and one for the whole run (wall, peak memory)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.perf_counter()
    with MemorySampler() as sampler:
        metrics = train_run(large_run(data, workers), run_dir)
    seconds = time.perf_counter() - started
    history = json.loads((run_dir / "model" / "history.json").read_text())["history"]
    peaks = sampler.peaks()
    rows = []
    for epoch in history:
        done, train_seconds = parallel_epoch(epoch["shard_rows"])
        rows.append({"section": "large data", "name": f"{label}, {epoch['stage']}", "threads": str(workers),
                     "rows_per_s": done / train_seconds, "note": f"{done:,} rows in {train_seconds:.0f} s"})
    test = metrics[(metrics["split"] == "test") & metrics["seen"] & (metrics["score_col"] == "score")]
    rows.append({"section": "large data", "name": f"{label}, whole run", "threads": str(workers),
                 "note": (f"{seconds:.0f} s wall; peak MiB: driver {peaks['driver_mib']:.0f}, Ray workers' private "
                          f"{peaks['ray_workers_private_mib']:.0f} together, object store (shared memory) "
                          f"{peaks['object_store_mib']:.0f}; test ROC seen {test['roc_auc'].mean():.3f}"),
                 "memory": peaks, "seconds": seconds})
    return rows


def large_rows(data: Path, workdir: Path) -> list[dict]:
    """The partitioned dataset trained with 1 and with 2 workers."""
    rows = []
    for workers in WORKER_COUNTS:
        rows += measured_run(data, workdir / f"run-{workers}-workers", f"{workers} worker(s)", workers)
    return rows


def reader_rows(data: Path, workdir: Path) -> list[dict]:
    """Ray Data's two Parquet readers, 1 worker, interleaved (v1, v2, v1, v2) so load from other jobs hits both."""
    rows = []
    for round_ in range(1, READER_ROUNDS + 1):
        for reader in ("v1", "v2"):
            ray_data.PARQUET_READER = reader
            try:
                rows += measured_run(data, workdir / f"run-{reader}-{round_}", f"{reader} reader, round {round_}", 1)
            finally:
                ray_data.PARQUET_READER = "v1"
    return rows


def run_large_benchmarks(config, workdir: Path, measure=large_rows) -> dict:
    """Build (or reuse) the partitioned dataset in WORKDIR/data, then train on it (`measure` decides how often)."""
    workdir = Path(workdir)
    report = build_simulated(SimulatorConfig(rows=config.rows, seed=0), workdir / "data")
    start_cluster()
    rows = measure(workdir / "data", workdir)
    return {"machine": machine_info("cpu"), "config": {**asdict(config), "files": len(report.files)}, "rows": rows,
            "targets": []}


def run_reader_benchmarks(config, workdir: Path) -> dict:
    return run_large_benchmarks(config, workdir, measure=reader_rows)
