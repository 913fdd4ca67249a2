"""`--suite runs`: what a small run costs beyond its epochs, on the quickstart's data (60,000 simulated rows).

The quickstart's three runs (AutoTask, the DNN general branch, LightGBM), each trained fresh one after another in
this process with its defaults, and AutoTask once more with Ray Data's feed (`feed = "ray-data"`, the path before
in-memory splits). Ray is started first, as the quickstart does, and torch's dynamo imported: each is reported on
its own (once per command). Per run: wall seconds, epochs and their seconds (`epoch_seconds` in model/history.json),
the fixed cost (wall − epochs), the wall time against LightGBM's, and the mean seen test ROC AUC.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from autotask.benchmarks.machine import machine_info
from autotask.config import RunConfig, TrainingConfig
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.runtime.run import train_run
from autotask.runtime.session import ensure_ray

RUNS = (  # label, model kind, training overrides
    ("AutoTask", "autotask", {}),
    ("AutoTask, Ray Data feed", "autotask", {"feed": "ray-data"}),
    ("DNN general branch", "dnn", {}),
    ("LightGBM", "lightgbm", {}),
)
REFERENCE = "LightGBM"
FIXED_COST_TARGET_S = 5.0
WALL_RATIO_TARGET = 5.0  # AutoTask's wall time against LightGBM's
QUICK_ROWS = 12_000


def command_costs() -> list[tuple[str, float]]:
    """What a command pays once, before its first run, so that no run of the table carries it: Ray's start, and
    torch's dynamo import, which the first optimizer built in a process triggers."""
    started = time.perf_counter()
    ensure_ray()
    ray_start = time.perf_counter() - started
    started = time.perf_counter()
    importlib.import_module("torch._dynamo")
    return [("Ray start", ray_start), ("first optimizer's import (torch._dynamo)", time.perf_counter() - started)]


def timed_run(data: Path, label: str, kind: str, training: dict, run_dir: Path) -> dict:
    """Train one run fresh and time it."""
    run = RunConfig(data=str(data), model=kind, run_name=label, seed=0, training=TrainingConfig(**training))
    started = time.perf_counter()
    metrics = train_run(run, run_dir, fresh=True)
    wall = time.perf_counter() - started
    history_file = run_dir / "model" / "history.json"
    epochs = json.loads(history_file.read_text())["history"] if history_file.exists() else []
    epoch_seconds = sum(epoch["epoch_seconds"] for epoch in epochs)
    seen = metrics[(metrics["split"] == "test") & metrics["seen"] & (metrics["score_col"] == "score")]
    provenance = json.loads((run_dir / "config.json").read_text())["provenance"]
    return {"section": "runs", "name": label, "model": kind, "wall_s": wall, "epochs": len(epochs),
            "epoch_s": epoch_seconds, "fixed_s": wall - epoch_seconds if epochs else None,
            "seen_roc_auc": float(seen["roc_auc"].mean()),
            "execution": provenance.get("execution"), "feed": provenance.get("feed")}


def run_table(rows: list[dict]) -> list[dict]:
    """Each row with its wall time as a multiple of the reference's (LightGBM, same run of the suite)."""
    reference = next(row["wall_s"] for row in rows if row["name"] == REFERENCE)
    return [{**row, "wall_ratio": row["wall_s"] / reference} for row in rows]


def run_targets(rows: list[dict]) -> list[dict]:
    by_name = {row["name"]: row for row in rows}
    autotask = by_name["AutoTask"]
    targets = [{"target": f"AutoTask's wall time <= {WALL_RATIO_TARGET:g}x LightGBM's",
                "measured": f"{autotask['wall_ratio']:.1f}x ({autotask['wall_s']:.1f} s vs "
                            f"{by_name[REFERENCE]['wall_s']:.1f} s)",
                "met": autotask["wall_ratio"] <= WALL_RATIO_TARGET}]
    for row in rows:
        if row["fixed_s"] is not None and row["feed"] == "memory":
            targets.append({"target": f"{row['name']}: fixed cost (wall - epochs) <= {FIXED_COST_TARGET_S:g} s",
                            "measured": f"{row['fixed_s']:.1f} s", "met": row["fixed_s"] <= FIXED_COST_TARGET_S})
    return targets


def run_runs_suite(config, workdir: str | Path) -> dict:
    """The suite (`config`: a BenchConfig; `--quick` trains on 12,000 rows instead of the quickstart's 60,000)."""
    workdir = Path(workdir)
    rows = QUICK_ROWS if config.is_quick else SimulatorConfig().rows
    data = workdir / "data"
    build_simulated(SimulatorConfig(rows=rows, seed=0), data).raise_if_invalid()
    measured = [{"section": "command", "name": name, "wall_s": seconds} for name, seconds in command_costs()]
    runs = [timed_run(data, label, kind, training, workdir / "runs" / label.replace(" ", "-").replace(",", ""))
            for label, kind, training in RUNS]
    runs = run_table(runs)
    return {"machine": machine_info("cpu"), "config": {**asdict(config), "rows": rows},
            "rows": measured + runs, "targets": run_targets(runs)}
