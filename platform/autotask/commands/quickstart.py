"""The main job on the built-in default data: simulate, validate, train AutoTask, the DNN baseline and
LightGBM on Ray, and print their per-scenario test AUCs side by side with the oracle's.

  python runners/quickstart.py [--data data/sim] [--runs runs/quickstart] [--workers 1]
"""

from __future__ import annotations

import argparse
import sys
import time

from autotask.cli import runner_console, runner_main
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.data.summary import print_report
from autotask.evaluation.metrics import scenario_metrics
from autotask.preflight import check_local_resources, check_output_dir, run_resources
from autotask.training.config import RunConfig, TrainingConfig
from autotask.training.run import train_run
from autotask.training.summary import side_by_side

console = runner_console(140)
MODELS = {"AutoTask": "autotask", "DNN general": "dnn", "LightGBM": "lightgbm"}


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/sim")
    p.add_argument("--runs", default="runs/quickstart")
    p.add_argument("--rows", type=int, default=SimulatorConfig().rows)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    start = time.perf_counter()
    simulator = SimulatorConfig(rows=args.rows, seed=args.seed)
    runs = {label: RunConfig(data=args.data, model=kind, run_name=label, seed=args.seed,
                             training=TrainingConfig(workers=args.workers)) for label, kind in MODELS.items()}
    check_output_dir(args.data, flag="--data")
    check_output_dir(args.runs, flag="--runs", data=args.data)
    for run in runs.values():  # before minutes of simulation
        check_local_resources(run_resources(run.training, run.model), None)
    report = build_simulated(simulator, args.data)
    print_report(report, console)
    metrics = {}
    for label, run in runs.items():
        kind = run.model
        console.print(f"[bold]training {label}[/bold] -> {args.runs}/{kind}")
        metrics[label] = train_run(run, f"{args.runs}/{kind}")
    predictions = f"{args.runs}/autotask/predictions.parquet"
    metrics["oracle"] = _oracle(predictions)
    console.print(side_by_side(metrics))
    console.print(f"wall time {time.perf_counter() - start:.0f} s; runs in {args.runs}/")
    return 0


def _oracle(predictions_path: str):
    import pandas as pd

    frame = pd.read_parquet(predictions_path)
    frame = frame[frame["split"] == "test"].assign(score=lambda f: f["oracle_p"])
    return scenario_metrics(frame, score_col="score")


if __name__ == "__main__":
    sys.exit(main())
