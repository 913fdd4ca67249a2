"""Train one model of any registered kind (AutoTask, the DNN baseline, MMoE, PLE, STAR, LightGBM) on Ray.

  python runners/train.py --data data/sim --model autotask --out runs/autotask [--workers 2]

Re-running the same command resumes from the last checkpoint (or does nothing when the run finished).
"""

from __future__ import annotations

import argparse
import json
import sys

from autotask import tracking
from autotask.cli import read_json_object, runner_console, runner_main
from autotask.config import (
    CALIBRATIONS,
    COMPILE_MODES,
    FEED_MODES,
    PRECISIONS,
    PRESETS,
    RUN_FORMAT,
    RunConfig,
    TrainingConfig,
)
from autotask.models.registry import kind_names
from autotask.preflight import InputError, check_output_dir
from autotask.progress import RunProgress
from autotask.runtime.run import train_run
from autotask.runtime.session import quiet_console
from autotask.training.lightgbm_params import check_passed_through
from autotask.training.summary import side_by_side

console = runner_console(130)

TRAINING_FLAGS = {  # flag dest -> TrainingConfig field
    "epochs_pretrain": int, "epochs_finetune": int, "batch_size": int, "lr_facet1": float, "lr_facet2": float,
    "lr_head": float, "weight_decay": float, "patience": int, "workers": int, "cpus_per_worker": float,
    "max_failures": int, "calibration": str, "warmup_epochs": int, "lr_decay": str, "min_lr_ratio": float,
    "eval_block_size": int, "min_steps_per_epoch": int, "pool_in_finetune": lambda text: on_off(text),
    "compile": str, "precision": str, "weight_average_epochs": float, "feed": str,
}
FLAG_CHOICES = {"calibration": CALIBRATIONS, "compile": COMPILE_MODES, "precision": PRECISIONS, "feed": FEED_MODES}
MODEL_FLAGS = {  # flag dest -> model config field
    "e1": int, "block_size": int, "task_id_mode": str, "fusion": str, "attention": str, "task_id_dropout": float,
    "tokenizer": str, "unseen": str,
}


def on_off(text: str) -> bool:
    """'true'/'false' (also yes/no, on/off, 1/0) for a boolean training flag."""
    value = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False,
             "0": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_config(args) -> RunConfig:
    """The preset's training recipe, then the config file, then flags on top."""
    raw = read_json_object(args.config, "--config") if args.config else {}
    raw["format"] = RUN_FORMAT  # a run trained now, even from an older run's config.json
    raw["data"] = args.data or raw.get("data")
    if not raw["data"]:
        raise InputError("--data is required (or 'data' in --config)")
    for key in ("model", "seed", "run_name", "variant"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    training = raw["training"] = {**PRESETS[args.preset], **raw.get("training", {})}
    training.update({k: getattr(args, k) for k in TRAINING_FLAGS if getattr(args, k) is not None})
    if args.use_gpu:
        training["use_gpu"] = True
    model = raw.setdefault("model_config", {})
    model.update({k: getattr(args, k) for k in MODEL_FLAGS if getattr(args, k) is not None})
    for item in args.set or []:
        key, equals, value = item.partition("=")
        if not key or not equals:
            raise InputError(f"--set {item}: expected KEY=VALUE (e.g. --set n_head1=2)")
        model[key] = parse_value(value)
    try:
        run = RunConfig.from_dict(raw)
    except TypeError as exc:  # a config file's section of the wrong shape
        raise InputError(f"{args.config or 'flags'}: {exc}") from exc
    check_passed_through(run.model, run.model_config, lambda name: _source(args, name))
    return run


def _source(args, name: str) -> str:
    """The flag a model config field came from: --set, its own flag (--e1) or the --config file."""
    if name in {item.partition("=")[0] for item in args.set or []}:
        return "--set"
    if name in MODEL_FLAGS and getattr(args, name) is not None:
        return "--" + name.replace("_", "-")
    return f"--config {args.config}" if args.config else "--set"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="contract dataset folder (validated before Ray starts)")
    p.add_argument("--model", choices=kind_names())
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--config", help="JSON run config (as written to RUN_DIR/config.json); flags override it")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="training recipe: default (10 + 30 epochs, patience 6) or paper (the paper's 30 + 45 epochs)")
    p.add_argument("--seed", type=int)
    p.add_argument("--run-name", dest="run_name")
    p.add_argument("--variant", help="short label used in reports")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--storage", help="checkpoint storage URI or shared path (default: RUN_DIR/ray)")
    p.add_argument("--fresh", action="store_true", help="delete RUN_DIR first instead of resuming")
    p.add_argument("--use-gpu", action="store_true")
    p.add_argument("--verbose", action="store_true", help="print Ray's own logs too (default: its session folder)")
    defaults = TrainingConfig()
    for name, kind in TRAINING_FLAGS.items():
        flag = "--" + name.replace("_", "-")
        extra = {"choices": FLAG_CHOICES[name]} if name in FLAG_CHOICES else {}
        p.add_argument(flag, dest=name, type=kind, help=f"default {getattr(defaults, name)}", **extra)
    for name, kind in MODEL_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help="model switch")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other model config field (repeatable)")
    tracking.add_flags(p)
    return p


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run = build_config(args)
    check_output_dir(args.out, data=run.data)
    tracking_uri = tracking.resolve(args)
    with quiet_console(args.verbose), RunProgress(console) as progress:
        progress.run_started(run.run_name)
        metrics = train_run(run, args.out, address=args.address, storage=args.storage, fresh=args.fresh,
                            progress=progress)
        progress.run_finished(run.run_name)
    console.print(side_by_side({run.run_name: metrics}))
    console.print(f"results in {args.out}/ (config.json, metrics.parquet, predictions.parquet, model/)")
    if tracking_uri:
        console.print(f"MLflow run {tracking.log_run(args.out, tracking_uri, args.experiment)} at {tracking_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
