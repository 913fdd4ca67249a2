"""TPE against random search on the default simulator: AutoTask searches of 24 trials with each sampler and 3 search
seeds (same data, same space, the default config as every search's first trial, no early stopping, 2 trials at a
time), their best-so-far curves, and how many trials TPE needs to reach random search's final best.

Each search keeps its folder under WORKDIR, so an interrupted benchmark re-run reads the searches it finished."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.benchmarks.machine import machine_info
from autotask.benchmarks.search import simulated_data
from autotask.config import RunConfig, TrainingConfig
from autotask.experiments.tuned import default_space
from autotask.reporting.tuning import best_so_far, best_so_far_figure
from autotask.tuning.search import SAMPLERS, SearchConfig
from autotask.tuning.study import run_search

TRIALS, QUICK_TRIALS = 24, 4
SEEDS, QUICK_SEEDS = (0, 1, 2), (0,)
METRIC = "best_valid_roc_auc"
FIGURE = "samplers_best_so_far.png"


def trials_to_reach(curve: np.ndarray, target: float, strictly: bool = False) -> int | None:
    """The first trial (1-based) whose best-so-far reaches `target` (or `strictly` exceeds it); None if none does."""
    values = np.nan_to_num(curve, nan=-np.inf)
    reached = np.flatnonzero(values > target if strictly else values >= target)
    return int(reached[0]) + 1 if reached.size else None


def trial_values(folder: Path, search: SearchConfig, base: RunConfig) -> list[float]:
    """Each trial's best validation ROC AUC in trial order; a finished search in `folder` is read, not re-run."""
    trials = folder / "trials.parquet"
    frame = pd.read_parquet(trials) if trials.exists() else run_search(base, default_space("autotask"), search, folder)
    return frame.sort_values("trial_number")[METRIC].astype(float).tolist()


def seed_row(seed: int, values: dict[str, list[float]], trials: int) -> dict:
    """One search seed from each sampler's trial values: its final best, the trials TPE took to reach random
    search's final best and to exceed it, and the first trials both searches share (the default config, then TPE's
    random startup trials, which draw what the random sampler of the same seed draws)."""
    curves = {sampler: best_so_far(v, "max") for sampler, v in values.items()}
    target = float(curves["random"][-1])
    reached = trials_to_reach(curves["tpe"], target)
    same = np.isclose(np.asarray(values["tpe"], float), np.asarray(values["random"], float))
    return {"section": "samplers", "name": f"search seed {seed}", "random_final_best": target,
            "tpe_final_best": float(curves["tpe"][-1]), "tpe_trials_to_random_best": reached,
            "tpe_trials_to_beat_random_best": trials_to_reach(curves["tpe"], target, strictly=True),
            "random_trials_to_own_best": trials_to_reach(curves["random"], target),
            "shared_first_trials": int(same.argmin()) if not same.all() else len(same),
            "note": f"{trials} trials per search; TPE never reached it" if reached is None else f"{trials} trials"}


def run_sampler_benchmarks(config, workdir: Path) -> dict:
    """Rows per search seed and a mean row; the target (TPE reaches random's final best in at most half the trials,
    mean over the seeds; a seed where it never does counts as trials + 1); the best-so-far figure in WORKDIR."""
    workdir = Path(workdir)
    data = simulated_data(config, workdir)
    trials, seeds = (QUICK_TRIALS, QUICK_SEEDS) if config.is_quick else (TRIALS, SEEDS)
    base = RunConfig(data=str(data), training=TrainingConfig(epochs_pretrain=1, epochs_finetune=1, workers=1))
    rows, tuning = [], {"models": {}, "mode": "max", "metric": "valid_roc_auc",
                        "budget": f"{trials} trials, search seeds {', '.join(map(str, seeds))}"}
    for seed in seeds:
        values = {}
        for sampler in SAMPLERS:
            search = SearchConfig(trials=trials, scheduler="none", sampler=sampler, seed=seed, concurrent=2)
            values[sampler] = trial_values(workdir / f"{sampler}-seed{seed}", search, base)
            tuning["models"][f"{sampler}, seed {seed}"] = {"curve": values[sampler]}
        rows.append(seed_row(seed, values, trials))
    needed = [row["tpe_trials_to_random_best"] or trials + 1 for row in rows]
    beaten = [row["tpe_trials_to_beat_random_best"] or trials + 1 for row in rows]
    rows.append({"section": "samplers", "name": "mean over search seeds", "tpe_trials_to_random_best": float(
        np.mean(needed)), "tpe_trials_to_beat_random_best": float(np.mean(beaten)),
        "random_final_best": float(np.mean([r["random_final_best"] for r in rows])),
        "tpe_final_best": float(np.mean([r["tpe_final_best"] for r in rows])),
        "note": f"{config.rows:,} simulated rows, 1 + 1 epochs per trial; a seed TPE never reaches counts "
                f"{trials + 1}"})
    best_so_far_figure(tuning).savefig(workdir / FIGURE, dpi=120)
    targets = [{"target": f"TPE reaches random search's final best within {trials // 2} of {trials} trials (mean)",
                "measured": f"{np.mean(needed):.1f} trials ({', '.join(map(str, needed))})",
                "met": bool(np.mean(needed) <= trials / 2)}]
    return {"machine": machine_info(config.device), "config": asdict(config), "rows": rows, "targets": targets,
            "curves": {name: record["curve"] for name, record in tuning["models"].items()},
            "figure": str(workdir / FIGURE), "phase_seconds": {}}
