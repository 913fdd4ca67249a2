"""The main job on the built-in default data: simulate, validate, train AutoTask, the DNN baseline and
LightGBM on Ray, and print their per-scenario test AUCs side by side with the oracle's.

  python runners/quickstart.py [--data data/sim] [--runs runs/quickstart] [--workers 1] [--verbose]

A live progress display on a terminal (run i of n, stage, epoch, validation AUC, rows/s, elapsed); plain lines
when the output goes to a file or a pipe. Ray's own logs stay in its session folder unless --verbose.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autotask.cli import runner_console, runner_main
from autotask.config import RunConfig, TrainingConfig
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.evaluation.metrics import scenario_metrics
from autotask.models.registry import get_kind
from autotask.preflight import SIMULATED_ROW_BYTES, check_local_resources, check_output_dir, check_room
from autotask.progress import RunProgress
from autotask.runtime.beside import BesideRuns, trains_beside
from autotask.runtime.driver import run_resources
from autotask.runtime.run import holds_run, is_finished, train_run
from autotask.runtime.session import ensure_ray, quiet_console
from autotask.training.summary import side_by_side

console = runner_console(140)
MODELS = {"AutoTask": "autotask", "DNN general": "dnn", "LightGBM": "lightgbm"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/sim")
    p.add_argument("--runs", default="runs/quickstart")
    p.add_argument("--rows", type=int, default=SimulatorConfig().rows)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="print Ray's own logs too (default: its session folder)")
    return p


def check(args) -> tuple[SimulatorConfig, dict[str, RunConfig]]:
    """Every flag, before minutes of simulation: the simulator's and the runs' configs, the folders, the disk, the
    machine's CPUs."""
    simulator = SimulatorConfig(rows=args.rows, seed=args.seed)
    runs = {label: RunConfig(data=args.data, model=kind, run_name=label, seed=args.seed,
                             training=TrainingConfig(workers=args.workers)) for label, kind in MODELS.items()}
    check_output_dir(args.data, flag="--data")
    check_output_dir(args.runs, flag="--runs", data=args.data)
    check_room(args.rows * SIMULATED_ROW_BYTES, args.data, f"--rows {args.rows:,}")
    for run in runs.values():
        check_local_resources(run_resources(run.training, run.model), None)
    return simulator, runs


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    start = time.perf_counter()
    simulator, runs = check(args)
    report = build_simulated(simulator, args.data)
    manifest = report.manifest
    console.print(f"{args.data}: a valid dataset of {report.n_rows:,} rows, d = {manifest.d} features, "
                  f"{manifest.n_tasks} seen + {len(manifest.unseen)} unseen scenarios "
                  f"(per-scenario counts: autotask build-data validate {args.data})")
    console.print(f"training {len(runs)} models into {args.runs}/ ({', '.join(r.model for r in runs.values())})")
    with quiet_console(args.verbose), RunProgress(console, total=len(runs)) as progress:
        metrics = _train_all(runs, Path(args.runs), progress)
    predictions = f"{args.runs}/autotask/predictions.parquet"
    metrics["oracle"] = _oracle(predictions)
    console.print(side_by_side(metrics))
    console.print(f"wall time {time.perf_counter() - start:.0f} s; runs in {args.runs}/")
    return 0


def _train_all(runs: dict[str, RunConfig], root: Path, progress) -> dict:
    """Every run's metrics frame. When the first (AutoTask) trains in this process with a core to spare, the others
    train beside it, one after another in a second process (runtime/beside.py); else one after another here."""
    first, *later = runs
    to_train = [label for label in later if not is_finished(root / runs[label].model, runs[label])]
    if to_train:
        ensure_ray()
    if not (to_train and trains_beside(runs[first])):  # finished runs are only read: no Ray, no second process
        return {label: _train_here(label, run, root, progress) for label, run in runs.items()}
    beside = BesideRuns(lambda label, frame: progress.run_finished(label, _headline(frame)))
    try:
        for label in runs:
            progress.run_started(label)
        for label in later:
            progress.note(label, f"training beside {first}")
            beside.submit(label, runs[label], root / runs[label].model, _retrains(label, runs[label], root, progress))
        beside.start()
        metrics = {first: _train_here(first, runs[first], root, progress, started=True)}
        return {**metrics, **beside.results()}
    finally:
        beside.close()  # AutoTask failed or Ctrl-C: the baselines stop too


def _train_here(label: str, run: RunConfig, root: Path, progress, started: bool = False):
    if not started:
        progress.run_started(label)
    fresh = _retrains(label, run, root, progress)
    if not get_kind(run.model).is_torch:
        progress.note(label, "fitting (no epochs)")
    metrics = train_run(run, root / run.model, progress=progress, fresh=fresh)
    progress.run_finished(label, _headline(metrics))
    return metrics


def _retrains(label: str, run: RunConfig, root: Path, progress) -> bool:
    """Whether the run's folder holds a run of older defaults: the built-in job's own folder is retrained, not
    refused."""
    run_dir = root / run.model
    stale = (run_dir / "config.json").exists() and not holds_run(run_dir, run)
    if stale:
        progress.note(label, "retraining: its run folder holds a run with other defaults")
    return stale


def _headline(metrics) -> str:
    """'mean seen test ROC AUC 88.7' from a run's metrics frame (its 'score' column)."""
    if not {"split", "seen", "score_col", "roc_auc"} <= set(metrics.columns):
        return ""
    rows = metrics[(metrics["split"] == "test") & metrics["seen"] & (metrics["score_col"] == "score")]
    return f"mean seen test ROC AUC {100 * rows['roc_auc'].mean():.1f}" if len(rows) else ""


def _oracle(predictions_path: str):
    import pandas as pd

    frame = pd.read_parquet(predictions_path)
    frame = frame[frame["split"] == "test"].assign(score=lambda f: f["oracle_p"])
    return scenario_metrics(frame, score_col="score")


if __name__ == "__main__":
    sys.exit(main())
