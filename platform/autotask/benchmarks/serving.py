"""Serving trained runs side by side: every serving form of each run's model on its own test rows, in one process,
so the latency of one model (e.g. AutoTask with language tokens) reads as a ratio to another's."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from autotask.benchmarks.inference import InferencePlan, inference_rows
from autotask.benchmarks.machine import machine_info
from autotask.config import RunConfig
from autotask.data.manifest import load_manifest
from autotask.models.language import reads_language
from autotask.serving.model import load_run_model
from autotask.training.batches import FEATURES, TASK_ID
from autotask.training.outputs import read_eval_frame

MAX_ROWS = 20_000


def run_serving_benchmarks(config, workdir: Path, runs: list[str]) -> dict:
    """Rows per run and serving form (`run: form`), each with p50/p99 single-row latency and batch rows/s; each
    row's note gives its p99 as a ratio to the first run's p99 in the same form."""
    if not runs:
        raise ValueError("--suite serving needs at least one --run RUN_DIR (a trained torch run)")
    rows = []
    for run_dir in runs:
        run = RunConfig.read(Path(run_dir) / "config.json")
        model = load_run_model(run_dir)
        manifest = load_manifest(Path(run_dir) / "model")
        _, inputs = read_eval_frame(run.data, manifest, reads_language(run.model_config))
        name = Path(run_dir).name
        measured = inference_rows(model, inputs[FEATURES][:MAX_ROWS], inputs[TASK_ID][:MAX_ROWS],
                                  Path(workdir) / name, InferencePlan.of(config))
        rows += [{**row, "name": f"{name}: {row['name']}",
                  "note": f"input width {inputs[FEATURES].shape[1]}; {row.get('note', '')}"} for row in measured]
    first = Path(runs[0]).name
    for row in rows:
        reference = next((r for r in rows if r["name"] == f"{first}: {row['name'].split(': ', 1)[1]}"), None)
        if reference and "p99_ms" in row and "p99_ms" in reference:
            row["p99_ratio"] = row["p99_ms"] / reference["p99_ms"]
            row["note"] = f"p99 {row['p99_ratio']:.2f} x {first}; {row['note']}"
    return {"machine": machine_info(config.device), "config": asdict(config), "rows": rows, "targets": [],
            "phase_seconds": {}}
