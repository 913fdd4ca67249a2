"""How much AutoTask adds to LightGBM: the two runs' scores blended, the weight chosen on validation.

A ceiling for levers that feed the trees' signal into AutoTask (distillation, stacking): if even the best blend,
chosen on the validation split, does not beat LightGBM on test, AutoTask's own fit carries little that the trees
lack (docs/home-depot.md, "How far is LightGBM").

  .venv/bin/python scripts/recipe-selection/blend_ceiling.py \
      --autotask data/check-hd/runs/home-depot/in-memory{,-seed1,-seed2} \
      --lightgbm data/check-hd/runs/home-depot/lightgbm-seed{0,1,2}

Runs are paired in the order given (training seed i with seed i). Per pair: the mean seen-scenario ROC AUC (%) on the
validation and test splits of AutoTask, LightGBM, their probability blend w·AutoTask + (1 − w)·LightGBM at w = 0.5,
and at the w in {0, 0.1, ..., 1} that is best on validation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.evaluation.selection import mean_seen_roc_auc

WEIGHTS = np.round(np.linspace(0, 1, 11), 1)


def seen_auc(frame: pd.DataFrame, scores: np.ndarray) -> float:
    return 100 * mean_seen_roc_auc(frame["label"].to_numpy(), scores, frame["task_id"].to_numpy())


def pair_row(autotask: Path, lightgbm: Path) -> dict:
    columns = ["row_id", "split", "label", "task_id", "score"]
    at = pd.read_parquet(autotask / "predictions.parquet", columns=columns)
    trees = pd.read_parquet(lightgbm / "predictions.parquet", columns=["row_id", "score"])
    frame = at.merge(trees, on="row_id", suffixes=("", "_lightgbm"), validate="one_to_one")
    splits = {name: frame[frame["split"] == name] for name in ("valid", "test")}

    def blended(split: str, weight: float) -> float:
        part = splits[split]
        return seen_auc(part, weight * part["score"].to_numpy() + (1 - weight) * part["score_lightgbm"].to_numpy())

    best = max(WEIGHTS, key=lambda w: blended("valid", w))
    row = {"pair": f"{autotask.name} + {lightgbm.name}", "chosen w": best}
    for split in ("valid", "test"):
        row |= {f"{split} AutoTask": blended(split, 1.0), f"{split} LightGBM": blended(split, 0.0),
                f"{split} blend 0.5": blended(split, 0.5), f"{split} blend chosen": blended(split, best)}
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--autotask", nargs="+", type=Path, required=True, help="AutoTask run folders")
    p.add_argument("--lightgbm", nargs="+", type=Path, required=True, help="LightGBM run folders, same order")
    args = p.parse_args()
    if len(args.autotask) != len(args.lightgbm):
        p.error("give as many --lightgbm runs as --autotask runs (they are paired in order)")
    table = pd.DataFrame([pair_row(a, b) for a, b in zip(args.autotask, args.lightgbm, strict=True)]).set_index("pair")
    summary = table.agg(["mean", "std"])
    print(pd.concat([table, summary]).round(2).T.to_string())


if __name__ == "__main__":
    main()
