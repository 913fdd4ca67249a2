"""The GPU suite, Ray-free (GPU machines here have no Ray): the bare training loop on CUDA against the same loop on
the same machine's CPU cores at several batch sizes, a CUDA-trained model's scores checked on the CPU, and serving
on CUDA. Epochs of all feeds are interleaved, so ratios come from one run."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch

from autotask.benchmarks.inference import InferencePlan, inference_rows
from autotask.benchmarks.loops import Feed, in_memory_tensors, interleaved_epochs, shuffled_batches
from autotask.benchmarks.stats import steady_rows_per_s
from autotask.benchmarks.steps import AUC_MAX_EPOCHS, feed_threads, step_suite_rows
from autotask.data.manifest import Manifest
from autotask.training.batches import FEATURES, TARGET, TASK_ID
from autotask.training.steps import predict

BATCH_SIZES = (256, 1024, 4096)  # 256 is the training default


def gpu_feeds(cpu: dict, gpu: dict, batch_sizes=BATCH_SIZES) -> dict[str, Feed]:
    threads = feed_threads("cpu")
    feeds = {}
    for size in batch_sizes:
        feeds[f"bare loop, CPU, batch {size}"] = Feed(threads, partial(shuffled_batches, cpu, size), "cpu")
        feeds[f"bare loop, CUDA, batch {size}"] = Feed(1, partial(shuffled_batches, gpu, size), "cuda")
    return feeds


def gpu_rows(data: Path, manifest: Manifest, epochs: int, workdir: Path, serving_plan: InferencePlan) -> list[dict]:
    """Training rows/s per device and batch size (ratio: CUDA over CPU at the same batch size), the CPU/CUDA score
    agreement of the CUDA-trained default model, and CUDA serving rows."""
    if not torch.cuda.is_available():
        return [{"section": "gpu", "name": "GPU path", "note": "not measured: torch sees no CUDA device"}]
    cpu = in_memory_tensors(str(data), manifest, "cpu")
    gpu = {key: value.cuda() for key, value in cpu.items()}
    feeds = gpu_feeds(cpu, gpu)
    timings, models = interleaved_epochs(feeds, manifest, len(cpu[TARGET]), epochs)
    rows = [{"section": "gpu training", "name": name, "threads": str(feed.threads) if feed.device == "cpu" else "",
             "rows_per_s": steady_rows_per_s(timings[name]), "note": "x bare: over the CPU loop at this batch size"}
            for name, feed in feeds.items()]
    cpu_rows_per_s = {row["name"].rsplit(" ", 1)[1]: row["rows_per_s"] for row in rows if ", CPU, " in row["name"]}
    for row in rows:
        row["ratio"] = row["rows_per_s"] / cpu_rows_per_s[row["name"].rsplit(" ", 1)[1]]
    trained = models[f"bare loop, CUDA, batch {BATCH_SIZES[0]}"]
    features, task_ids = cpu[FEATURES][:20_000].numpy(), cpu[TASK_ID][:20_000].numpy()
    on_gpu = predict(trained, features, task_ids)["score"]
    on_cpu = predict(trained.to("cpu"), features, task_ids)["score"]
    rows.append({"section": "gpu training", "name": "CUDA-trained model scored on CPU", "threads": "",
                 "max_abs_diff": float(np.abs(on_gpu - on_cpu).max()), "note": "vs its scores on CUDA"})
    serving = inference_rows(trained.to("cuda"), features, task_ids, workdir / "serving", serving_plan)
    return rows + [{**row, "section": "gpu serving"} for row in serving]


def run_gpu_benchmarks(config, workdir: Path) -> dict:
    """The GPU suite on simulated data (`config`: a BenchConfig): the step forms and the batch-size table (on CPU
    too), then CUDA against CPU when a GPU is present; the result has the full suite's shape."""
    from dataclasses import asdict

    from autotask.benchmarks.machine import machine_info
    from autotask.data.build import build_simulated
    from autotask.data.simulator import SimulatorConfig

    workdir = Path(workdir)
    report = build_simulated(SimulatorConfig(rows=config.rows, seed=0), workdir / "data").raise_if_invalid()
    auc_epochs = config.epochs if config.is_quick else AUC_MAX_EPOCHS
    rows = step_suite_rows(workdir / "data", report.manifest, config.epochs, auc_epochs)
    rows += gpu_rows(workdir / "data", report.manifest, config.epochs, workdir, InferencePlan.of(config, "cuda"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"machine": machine_info(device), "config": asdict(config), "rows": rows, "targets": []}
