"""Run a comparison study (a named set of runs) concurrently on Ray.

  python runners/compare.py --data data/sim --study paper --out runs/paper [--seeds 3]

Then: python runners/report.py --study runs/paper --baseline dnn --out reports/paper
"""

from __future__ import annotations

import argparse
import sys

from autotask import tracking
from autotask.cli import runner_console, runner_main
from autotask.experiments.study import load_study, run_study, study_configs
from autotask.preflight import check_output_dir
from autotask.progress import RunProgress
from autotask.training.session import quiet_console

console = runner_console(140)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--study", default="paper", help="built-in name (paper) or a JSON study file")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--concurrent", type=int, default=1, help="runs at once (each uses --workers Train workers)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--epochs-pretrain", type=int)
    p.add_argument("--epochs-finetune", type=int)
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--storage", help="shared path or URI (s3://, gs://): each run's checkpoints and a copy of its "
                   "results under STORAGE/RUN_NAME (needed on multi-node clusters)")
    p.add_argument("--fresh", action="store_true", help="retrain this study's runs from scratch (deletes their "
                   "run directories under --out first)")
    p.add_argument("--verbose", action="store_true", help="print Ray's own logs too (default: its session folder)")
    tracking.add_flags(p)
    args = p.parse_args(argv)
    check_output_dir(args.out, data=args.data)
    tracking_uri = tracking.resolve(args)
    training = {"workers": args.workers}
    for key in ("epochs_pretrain", "epochs_finetune"):
        if getattr(args, key) is not None:
            training[key] = getattr(args, key)
    configs = study_configs(load_study(args.study), args.data, args.seeds, training)
    with quiet_console(args.verbose), RunProgress(console, total=len(configs)) as progress:
        run_dirs = run_study(configs, args.out, args.concurrent, address=args.address, storage=args.storage,
                             fresh=args.fresh, progress=progress)
    console.print(f"{len(configs)} runs in {args.out}/; report: python runners/report.py --study {args.out} ...")
    if tracking_uri:
        parent = tracking.log_study(args.out, run_dirs, tracking_uri, args.experiment)
        console.print(f"MLflow study run {parent} (a child per run) at {tracking_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
