"""Run a comparison study (a named set of runs) concurrently on Ray.

  python runners/compare.py --data data/sim --study paper --out runs/paper [--seeds 3]
  python runners/compare.py --data data/sim --study compact --tune-trials 16 --seeds 3 --out runs/tuned

Then: python runners/report.py --study runs/paper --baseline dnn --out reports/paper
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autotask import tracking
from autotask.cli import runner_console, runner_main
from autotask.experiments.study import STUDIES, load_study, run_study, study_configs
from autotask.experiments.tuned import default_space, seed_configs, tune_entry, tuning_record
from autotask.preflight import InputError, check_output_dir
from autotask.progress import RunProgress
from autotask.runtime.driver import Shell
from autotask.runtime.session import quiet_console
from autotask.training.lightgbm_params import check_passed_through
from autotask.tuning.search import SAMPLERS, SCHEDULERS, SearchConfig

console = runner_console(140)


def tune_study(entries, args, training: dict) -> tuple[dict, dict]:
    """Search each entry with the same budget (one after another; a search runs its trials concurrently), then the
    winners' seed configs and study.json's tuning record."""
    if args.tune_trials < 0:
        raise InputError(f"--tune-trials {args.tune_trials}: 0 (no search) or more")
    if args.fresh:
        raise InputError("--fresh with --tune-trials: remove the search folders yourself (OUT/NAME/search) to search "
                         "again; --fresh would only retrain the seeds")
    search = SearchConfig(trials=args.tune_trials, sampler=args.sampler, scheduler=args.scheduler)
    records = {}
    for entry in entries:
        console.print(f"searching {entry.name}: {search.trials} trials of {default_space(entry.model).name}")
        records[entry.name] = tune_entry(entry, args.data, training, search, Path(args.out), args.address, console)
    return seed_configs(records, entries, args.seeds), {"tuning": tuning_record(records, search, args.seeds)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--study", default="paper", help=f"built-in name ({', '.join(STUDIES)}) or a JSON study file")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--tune-trials", type=int, default=0, help="first search every model's own space with N trials "
                   "(Ray Tune + Optuna, the same N for each), then retrain each best config with --seeds seeds "
                   "(default 0: train the study's fixed configs)")
    p.add_argument("--sampler", choices=SAMPLERS, default=SearchConfig.sampler, help="with --tune-trials")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=SearchConfig.scheduler, help="with --tune-trials")
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
    return p


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_output_dir(args.out, data=args.data)
    tracking_uri = tracking.resolve(args)
    training = {"workers": args.workers}
    for key in ("epochs_pretrain", "epochs_finetune"):
        if getattr(args, key) is not None:
            training[key] = getattr(args, key)
    entries = load_study(args.study)
    for entry in entries:  # LightGBM's parameters by LightGBM's rules, before any search or Ray
        check_passed_through(entry.model, entry.model_config, lambda _, name=entry.name: f"--study {args.study}: "
                             f"run {name!r}")
    extra = None
    with quiet_console(args.verbose):
        if args.tune_trials:
            configs, extra = tune_study(entries, args, training)
        else:
            configs = study_configs(entries, args.data, args.seeds, training)
        with RunProgress(console, total=len(configs)) as progress:
            run_dirs = run_study(configs, args.out, args.concurrent, Shell(address=args.address, storage=args.storage),
                                 fresh=args.fresh, progress=progress, record_extra=extra)
    console.print(f"{len(configs)} runs in {args.out}/; report: python runners/report.py --study {args.out} ...")
    if tracking_uri:
        parent = tracking.log_study(args.out, run_dirs, tracking_uri, args.experiment)
        console.print(f"MLflow study run {parent} (a child per run) at {tracking_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
