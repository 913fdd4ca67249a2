"""Recipe selection on held-out worlds, validation only (docs/worlds.md, "Model work").

  .venv/bin/python scripts/recipe-selection/select_recipe.py --world-seed 2 --count 6 \
      --variants scripts/recipe-selection/variants-seed2.json --workdir data/select-2
  .venv/bin/python scripts/recipe-selection/select_recipe.py --data data/select-sim-1 --data data/select-sim-2 \
      --variants scripts/recipe-selection/variants-towers.json --workdir data/select-sim-towers

Builds `--count` worlds of `--world-seed` (never the benchmark's seed 0), or reads the `--data` datasets (for
example the simulator's seeds 1 and 2, `build_data.py simulate --seed N`), trains every variant (kind, model config,
training overrides) with training seed 0, and prints each run's validation mean seen ROC AUC (the early-stopping
metric for torch kinds; LightGBM's scored validation rows), one row per variant, one column per world; with
`--seeds` the mean over training seeds and each world's spread over them; below it the calibration split's seen ROC
AUC (`held_out`: rows the stopping never reads, the fair comparison when a variant changes how noisy the validation
curve is) and the test split's mean seen / unseen ROC AUC of the served score, for the report only (never for
choosing).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import pandas as pd

from autotask.config import RunConfig, TrainingConfig
from autotask.data.build import build_worlds
from autotask.data.worlds import WorldsConfig, world_name
from autotask.runtime.run import train_run
from autotask.runtime.session import ensure_ray


def validation_auc(run_dir: Path) -> float:
    history = run_dir / "model" / "history.json"
    if history.exists():
        return 100 * json.loads(history.read_text())["best_auc"]
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    rows = metrics[(metrics["split"] == "valid") & metrics["seen"] & (metrics["score_col"] == "score")]
    return 100 * float(rows["roc_auc"].mean())


def split_aucs(run_dir: Path) -> dict[str, float]:
    """Mean ROC AUC of the served score: the calibration split's seen scenarios (`held_out`: labelled rows early
    stopping never reads, so variants whose validation curves differ in noise compare without the bias of a noisy
    curve's maximum) and the test split's seen and unseen scenarios (report only)."""
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    rows = metrics[metrics["score_col"] == "score"]
    test, calib = rows[rows["split"] == "test"], rows[rows["split"] == "calib"]
    return {"held_out": 100 * float(calib[calib["seen"]]["roc_auc"].mean()),
            "test_seen": 100 * float(test[test["seen"]]["roc_auc"].mean()),
            "test_unseen": 100 * float(test[~test["seen"]]["roc_auc"].mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world-seed", type=int)
    p.add_argument("--data", action="append", default=[], help="an existing dataset instead of worlds (repeatable)")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default 0)")
    p.add_argument("--variants", required=True, help='JSON: {"name": [kind, model_config, training], ...}')
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    if args.world_seed == 0:
        raise SystemExit("--world-seed 0 holds the benchmark's worlds: choose on other worlds")
    workdir = Path(args.workdir)
    datasets = {Path(path).name: Path(path) for path in args.data}
    if not datasets:
        build_worlds(WorldsConfig(count=args.count, seed=args.world_seed), workdir / "worlds")
        datasets = {world_name(i): workdir / "worlds" / world_name(i) for i in range(args.count)}
    ensure_ray()
    variants = json.loads(Path(args.variants).read_text())
    rows = []
    for world, data in datasets.items():
        for (name, (kind, model_config, training)), seed in itertools.product(variants.items(), args.seeds):
            run_dir = workdir / "runs" / world / (name if seed == 0 else f"{name}-seed{seed}")
            if not (run_dir / "metrics.parquet").exists():
                train_run(RunConfig(data=str(data), model=kind, run_name=name, seed=seed,
                                    model_config=model_config, training=TrainingConfig(**training)), run_dir)
            rows.append({"world": world, "variant": name, "seed": seed, "valid_seen": validation_auc(run_dir),
                         **split_aucs(run_dir)})
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(index="variant", columns="world", values="valid_seen")
    table["mean"] = table.mean(axis=1)
    print("validation, mean seen ROC AUC (%), mean over seeds:\n" + table.round(2).to_string())
    columns = ["valid_seen", "held_out", "test_seen", "test_unseen"]
    report = frame.groupby("variant")[columns].agg(["mean", "std"])
    print("\nover every world and seed (test: report only, never for choosing):\n" + report.round(2).to_string())
    if len(args.seeds) > 1:  # seed spread: each world's std over training seeds, then its mean and max over worlds
        spread = frame.groupby(["variant", "world"])[columns].std()
        spread = spread.groupby("variant").agg(["mean", "max"])
        print("\nstd over training seeds, mean and max over worlds (test: report only):\n"
              + spread.round(2).to_string())


if __name__ == "__main__":
    main()
