"""Where the worlds benchmark's unseen seed spread comes from: the fitted models, or the labels drawn for the test rows.

A world's test rows carry their oracle probability (`oracle_p`), so each run's unseen ROC AUC can be scored twice on
the same rows: against the drawn 0/1 labels (the benchmark's number) and against the labels' expectation (each row a
positive with weight p and a negative with weight 1 − p: the AUC over the label noise). Training seeds that differ
only in how their errors fall on ~600 noisy labels per scenario spread on the first and not on the second.

  .venv/bin/python scripts/recipe-selection/spread_sources.py --workdir data/bench-worlds-v4

Per model: the mean unseen AUC (%), the worlds whose std over training seeds is <= 0.5, the mean and worst std, for
the drawn labels and for their expectation.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

SPREAD_TARGET = 0.5
RUN = re.compile(r"(?P<model>.+)-seed(?P<seed>\d+)$")


def unseen_aucs(predictions: pd.DataFrame, score_col: str = "score") -> tuple[float, float]:
    """(drawn-label, expected-label) mean ROC AUC (%) over the test split's unseen scenarios."""
    test = predictions[(predictions["split"] == "test") & ~predictions["seen"]]
    drawn, expected = [], []
    for _, rows in test.groupby("scenario"):
        scores, p = rows[score_col].to_numpy(), rows["oracle_p"].to_numpy()
        drawn.append(roc_auc_score(rows["label"], scores))
        labels = np.r_[np.ones(len(p)), np.zeros(len(p))]
        expected.append(roc_auc_score(labels, np.r_[scores, scores], sample_weight=np.r_[p, 1 - p]))
    return 100 * float(np.mean(drawn)), 100 * float(np.mean(expected))


def run_records(workdir: Path) -> pd.DataFrame:
    records = []
    for run in sorted(workdir.glob("runs/world-*/*-seed*")):
        match = RUN.match(run.name)
        if match is None or not (run / "predictions.parquet").exists():
            continue
        drawn, expected = unseen_aucs(pd.read_parquet(run / "predictions.parquet"))
        records.append({"world": run.parent.name, "model": match["model"], "seed": int(match["seed"]),
                        "drawn labels": drawn, "expected labels": expected})
    return pd.DataFrame(records)


def summary(records: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for model, runs in records.groupby("model"):
        row = {"model": model}
        for column in ("drawn labels", "expected labels"):
            spread = runs.groupby("world")[column].std()
            row |= {f"{column}: mean": runs.groupby("world")[column].mean().mean(),
                    f"{column}: worlds <= {SPREAD_TARGET}": int((spread <= SPREAD_TARGET).sum()),
                    f"{column}: mean std": spread.mean(), f"{column}: worst std": spread.max()}
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, required=True, help="the worlds benchmark's --workdir")
    args = p.parse_args()
    records = run_records(args.workdir)
    print(f"{records['world'].nunique()} worlds, {len(records)} runs\n" + summary(records).round(2).T.to_string())


if __name__ == "__main__":
    main()
