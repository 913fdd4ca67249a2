"""Recipe selection on held-out worlds, validation only (docs/worlds.md, "Model work").

  .venv/bin/python scripts/recipe-selection/select_recipe.py --world-seed 2 --count 6 \
      --variants scripts/recipe-selection/variants-seed2.json --workdir data/select-2

Builds `--count` worlds of `--world-seed` (never the benchmark's seed 0), trains every variant (kind, model config,
training overrides) with training seed 0, and prints each run's validation mean seen ROC AUC (the early-stopping
metric for torch kinds; LightGBM's scored validation rows), one row per variant, one column per world.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world-seed", type=int, required=True)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--variants", required=True, help='JSON: {"name": [kind, model_config, training], ...}')
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    if args.world_seed == 0:
        raise SystemExit("--world-seed 0 holds the benchmark's worlds: choose on other worlds")
    workdir = Path(args.workdir)
    build_worlds(WorldsConfig(count=args.count, seed=args.world_seed), workdir / "worlds")
    ensure_ray()
    variants = json.loads(Path(args.variants).read_text())
    rows = []
    for index in range(args.count):
        world = world_name(index)
        for name, (kind, model_config, training) in variants.items():
            run_dir = workdir / "runs" / world / name
            train_run(RunConfig(data=str(workdir / "worlds" / world), model=kind, run_name=name, seed=0,
                                model_config=model_config, training=TrainingConfig(**training)), run_dir)
            rows.append({"world": world, "variant": name, "valid_seen": validation_auc(run_dir)})
    table = pd.DataFrame(rows).pivot(index="variant", columns="world", values="valid_seen")
    table["mean"] = table.mean(axis=1)
    print(table.round(2).to_string())


if __name__ == "__main__":
    main()
