"""Where the worlds benchmark's unseen seed spread comes from: the fitted models, or the labels drawn for the test rows.

A world's test rows carry their oracle probability (`oracle_p`), so each run's unseen ROC AUC can be scored twice on
the same rows: against the drawn 0/1 labels (the benchmark's number) and against the labels' expectation (each row a
positive with weight p and a negative with weight 1 − p: the AUC over the label noise). Training seeds that differ
only in how their errors fall on ~600 noisy labels per scenario spread on the first and not on the second.

  .venv/bin/python scripts/recipe-selection/spread_sources.py --workdir data/bench-worlds-v4

Per model: the mean unseen AUC (%), the worlds whose std over training seeds is <= 0.5, the mean and worst std, for
the drawn labels and for their expectation; then per model and kind of unseen scenario (a `mixture` of seen
scenarios' latents, or a `novel` one: the worlds' worlds.json), the mean AUC and the mean std over seeds per scenario.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

SPREAD_TARGET = 0.5
RUN = re.compile(r"(?P<model>.+)-seed(?P<seed>\d+)$")


def scenario_aucs(predictions: pd.DataFrame, score_col: str = "score") -> dict[str, tuple[float, float]]:
    """Unseen scenario -> (drawn-label, expected-label) ROC AUC (%) on the test split."""
    test = predictions[(predictions["split"] == "test") & ~predictions["seen"]]
    aucs = {}
    for scenario, rows in test.groupby("scenario"):
        scores, p = rows[score_col].to_numpy(), rows["oracle_p"].to_numpy()
        labels = np.r_[np.ones(len(p)), np.zeros(len(p))]
        expected = roc_auc_score(labels, np.r_[scores, scores], sample_weight=np.r_[p, 1 - p])
        aucs[scenario] = (100 * roc_auc_score(rows["label"], scores), 100 * expected)
    return aucs


def unseen_kinds(workdir: Path) -> dict[tuple[str, str], str]:
    """(world, unseen scenario name U1, U2, ...) -> its kind in the worlds' record."""
    worlds = json.loads((workdir / "worlds" / "worlds.json").read_text())["worlds"]
    return {(w["name"], f"U{i + 1}"): u["kind"] for w in worlds for i, u in enumerate(w["unseen"])}


def scenario_records(workdir: Path) -> pd.DataFrame:
    """One row per (world, model, seed, unseen scenario): its kind and both AUCs."""
    kinds, records = unseen_kinds(workdir), []
    for run in sorted(workdir.glob("runs/world-*/*-seed*")):
        match = RUN.match(run.name)
        if match is None or not (run / "predictions.parquet").exists():
            continue
        for scenario, (drawn, expected) in scenario_aucs(pd.read_parquet(run / "predictions.parquet")).items():
            records.append({"world": run.parent.name, "model": match["model"], "seed": int(match["seed"]),
                            "scenario": scenario, "kind": kinds.get((run.parent.name, scenario), "?"),
                            "drawn labels": drawn, "expected labels": expected})
    return pd.DataFrame(records)


def run_records(scenarios: pd.DataFrame) -> pd.DataFrame:
    """Per run, the mean over its unseen scenarios (the benchmark's unseen number)."""
    return scenarios.groupby(["world", "model", "seed"])[["drawn labels", "expected labels"]].mean().reset_index()


def by_kind(scenarios: pd.DataFrame) -> pd.DataFrame:
    """Per model and kind: the mean AUC and the mean std over seeds of one scenario."""
    per_scenario = scenarios.groupby(["model", "kind", "world", "scenario"])[["drawn labels", "expected labels"]]
    stats = per_scenario.agg(["mean", "std"])
    stats.columns = [f"{label}: {stat}" for label, stat in stats.columns]
    return stats.groupby(["model", "kind"]).mean()


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
    scenarios = scenario_records(args.workdir)
    records = run_records(scenarios)
    print(f"{records['world'].nunique()} worlds, {len(records)} runs\n" + summary(records).round(2).T.to_string())
    print("\nper unseen scenario, by kind (std: over training seeds)\n" + by_kind(scenarios).round(2).T.to_string())


if __name__ == "__main__":
    main()
