"""Search throughput: the same small search run twice in one process, trials in the trial's own process and trials
that each start a Train worker group; trials per minute and the fixed cost per trial (wall time per trial minus
the trial's epochs, training and validation).

A trial's wall time is the span from the first trial's start (its folder's params.json) to the last trial's last
report (its result.json), over the trials, run one at a time: the search's own start (Ray, data checks) is not
a trial's cost."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from autotask.benchmarks import asha_check
from autotask.benchmarks.machine import machine_info
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.training.config import RunConfig, TrainingConfig
from autotask.tuning.search import SearchConfig
from autotask.tuning.study import run_search

REPO_ROOT = Path(__file__).resolve().parents[3]
TRIALS, QUICK_TRIALS = 6, 3
PATHS = {"trial process (1 worker)": True, "Train worker group per trial": False}
OVERHEAD_TARGET_S = 3.0


def trial_times(search_dir: Path) -> tuple[float, pd.Series]:
    """(span from the first trial's start to the last trial's last report, each trial's summed epoch seconds)."""
    folders = sorted((search_dir / "ray" / "search").glob("run_trial_*"))
    starts = [(folder / "params.json").stat().st_mtime for folder in folders]
    ends = [(folder / "result.json").stat().st_mtime for folder in folders]
    work = {}
    for folder in folders:
        lines = [line for line in (folder / "result.json").read_text().splitlines() if line.strip()]
        work[folder.name] = sum(json.loads(line).get("epoch_seconds", 0.0) for line in lines)
    return max(ends) - min(starts), pd.Series(work, dtype=float)


def run_search_benchmarks(config, workdir: Path) -> dict:
    """Rows per path: trials/min, wall s per trial, epoch s per trial, fixed overhead per trial; and the target."""
    workdir = Path(workdir)
    data = workdir / "data"
    if not (data / "manifest.json").exists():
        build_simulated(SimulatorConfig(rows=config.rows, seed=0), data).raise_if_invalid()
    trials = QUICK_TRIALS if config.is_quick else TRIALS
    base = RunConfig(data=str(data), training=TrainingConfig(epochs_pretrain=1, epochs_finetune=1, workers=1))
    rows = []
    for name, in_process in PATHS.items():
        out = workdir / ("in-process" if in_process else "worker-group")
        search = SearchConfig(trials=trials, scheduler="none", sampler="random", concurrent=1, in_process=in_process)
        started = time.perf_counter()
        run_search(base, REPO_ROOT / "search_spaces" / "autotask.py", search, out)
        search_wall = time.perf_counter() - started
        span, work = trial_times(out)
        per_trial = span / trials
        rows.append({"section": "search", "name": name, "trials_per_min": 60 / per_trial,
                     "wall_s_per_trial": per_trial, "epoch_s_per_trial": work.mean(),
                     "overhead_s_per_trial": per_trial - work.mean(), "search_wall_s": search_wall,
                     "note": f"{trials} trials one at a time, 1 + 1 epochs, {config.rows:,} simulated rows"})
    leak = asha_check.check(str(data), workdir / "asha-check", 120 if config.is_quick else asha_check.DEADLINE_S)
    rows.append({"section": "search", "name": "Tune's ASHAScheduler, a worker group per trial",
                 "note": f"{leak['verdict']} ({leak['trials_started']} of {asha_check.TRIALS} trials started in "
                         f"{leak['seconds']:.0f} s; tuning/asha.py stops trials cooperatively instead)"})
    fastest = rows[0]
    targets = [{"target": f"fixed overhead per 1-worker trial <= {OVERHEAD_TARGET_S:g} s",
                "measured": f"{fastest['overhead_s_per_trial']:.1f} s ({rows[1]['overhead_s_per_trial']:.1f} s with a "
                            f"worker group per trial)", "met": fastest["overhead_s_per_trial"] <= OVERHEAD_TARGET_S}]
    return {"machine": machine_info(config.device), "config": asdict(config), "rows": rows, "targets": targets,
            "phase_seconds": {}}
