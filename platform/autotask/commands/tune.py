"""Search a torch model's hyperparameters (AutoTask under d·e1 = e2, any kind's space) on Ray Tune + Optuna.

python runners/tune.py --data data/sim --space search_spaces/autotask.py --trials 8 --out runs/tune
"""

from __future__ import annotations

import argparse
import sys

from autotask import tracking
from autotask.cli import runner_console, runner_main
from autotask.config import RunConfig, TrainingConfig
from autotask.preflight import check_output_dir
from autotask.runtime.driver import Shell
from autotask.runtime.session import quiet_console
from autotask.tuning.search import METRICS, MODES, SAMPLERS, SCHEDULERS, SearchConfig
from autotask.tuning.study import run_search

console = runner_console(140)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--space", required=True, help="search-space file (search_spaces/autotask.py)")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--out", required=True)
    p.add_argument("--metric", default=SearchConfig.metric, help=f"one the trials report: {', '.join(METRICS)}")
    p.add_argument("--mode", choices=MODES, default=SearchConfig.mode, help="maximise or minimise --metric")
    p.add_argument("--optuna-storage", help="Optuna RDB storage URL (default sqlite:///OUT/optuna.db; e.g. "
                   "postgresql://... for a cluster); open it with optuna-dashboard URL")
    p.add_argument("--study-name", help="the Optuna study's name in that storage (default: OUT's folder name)")
    p.add_argument("--warm-start", metavar="URL[#STUDY]", help="start from an earlier Optuna study's finished trials")
    p.add_argument("--concurrent", type=int, help="trials at once (default: what the cluster fits)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=SearchConfig.scheduler)
    p.add_argument("--sampler", choices=SAMPLERS, default=SearchConfig.sampler)
    p.add_argument("--objectives", default="auc", help="auc or auc,params (minimise parameter count too)")
    p.add_argument("--epochs-pretrain", type=int, default=1)
    p.add_argument("--epochs-finetune", type=int, default=4, help="upper bound when the space samples it")
    p.add_argument("--workers", type=int, default=1, help="Train workers per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue an interrupted search in --out")
    p.add_argument("--retrain-best", action="store_true", help="train the best config into OUT/best")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--verbose", action="store_true", help="print Ray's own logs too (default: its session folder)")
    p.add_argument(
        "--storage",
        help="shared path or URI (s3://, gs://) for trials and checkpoints (default: OUT/ray); "
        "the finished OUT is copied to STORAGE/results",
    )
    tracking.add_flags(p)
    return p


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_output_dir(args.out, data=args.data)
    tracking_uri = tracking.resolve(args)
    base = RunConfig(
        data=args.data,
        seed=args.seed,
        training=TrainingConfig(
            epochs_pretrain=args.epochs_pretrain, epochs_finetune=args.epochs_finetune, workers=args.workers
        ),
    )
    config = SearchConfig(
        trials=args.trials,
        metric=args.metric,
        mode=args.mode,
        optuna_storage=args.optuna_storage,
        study_name=args.study_name,
        warm_start=args.warm_start,
        objectives=[o.strip() for o in args.objectives.split(",") if o.strip()],
        scheduler=args.scheduler,
        sampler=args.sampler,
        concurrent=args.concurrent,
        seed=args.seed,
    )
    with quiet_console(args.verbose):
        frame = run_search(base, args.space, config, args.out, resume=args.resume, retrain_best=args.retrain_best,
                           shell=Shell(address=args.address, storage=args.storage, console=console))
    console.print(frame.to_string(max_cols=20))
    console.print(f"results in {args.out}/ (trials.parquet, best_config.json)")
    if tracking_uri:
        parent = tracking.log_search(args.out, tracking_uri, args.experiment, storage=args.storage)
        console.print(f"MLflow search run {parent} (a child per trial) at {tracking_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
