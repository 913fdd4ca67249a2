"""What tracking logs, read from a run's or a search's folder: per-epoch history, test metrics, trials' reports;
and the small conversions MLflow needs (param text, metric keys)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

# Bookkeeping numbers in a history entry or a Tune result, not metrics of the model.
NOT_METRICS = {"epoch", "training_iteration", "timestamp", "pid", "iterations_since_restore", "time_since_restore",
               "time_total_s", "done", "n_params"}


def history_metrics(path: Path) -> list[tuple[str, float, int]]:
    """Every number of each epoch in a run's history.json, step = its epoch (none for LightGBM: no history)."""
    if not path.exists():
        return []
    entries = json.loads(path.read_text()).get("history", [])
    return [(key, float(value), int(entry.get("epoch", i))) for i, entry in enumerate(entries)
            for key, value in entry.items() if number(value) and key not in NOT_METRICS]


def test_metrics(path: Path) -> list[tuple[str, float, int]]:
    """test.<metric>.<scenario> per scenario and test.<metric>.mean_seen / .mean_unseen (other score columns than
    `score` as test.<score_col>.<metric>.<scenario>)."""
    import pandas as pd

    frame = pd.read_parquet(path)
    test = frame[frame["split"] == "test"]
    score_metrics = [c for c in ("roc_auc", "pr_auc") if c in test]
    out = []
    for score_col, rows in test.groupby("score_col", sort=True):
        prefix = "test" if score_col == "score" else f"test.{score_col}"
        for metric in score_metrics:
            out += [(f"{prefix}.{metric}.{scenario}", float(value), 0)
                    for scenario, value in zip(rows["scenario"], rows[metric], strict=True)]
            for label, seen in (("mean_seen", True), ("mean_unseen", False)):
                values = rows.loc[rows["seen"] == seen, metric].dropna()
                if len(values):
                    out.append((f"{prefix}.{metric}.{label}", float(values.mean()), 0))
    return out


def trial_histories(out: Path, storage: str | None) -> dict[str, list[tuple[str, float, int]]]:
    """{trial id: per-epoch metrics} from each trial's result.json in Tune's experiment folder (one JSON a report)."""
    from autotask.tuning.results import EXPERIMENT
    from autotask.tuning.tuner import search_storage

    experiment = search_storage(out, storage) / EXPERIMENT
    histories: dict[str, list[tuple[str, float, int]]] = {}
    if not experiment.exists():
        return histories
    for result in experiment.files("result.json"):
        for line in result.read_text().splitlines():
            if not line.strip():
                continue
            report = json.loads(line)
            step = int(report.get("epoch", report.get("training_iteration", 1) - 1))
            histories.setdefault(str(report.get("trial_id")), []).extend(
                (key, float(value), step) for key, value in report.items()
                if number(value) and key not in NOT_METRICS and not key.startswith("time_"))
    return histories


def text(value) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays from a parquet row
        value = value.tolist()
    return json.dumps(value) if isinstance(value, (list, tuple, dict, bool)) or value is None else str(value)


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def missing(value) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def key(name: str) -> str:
    """MLflow accepts letters, digits, _ - . / and spaces in a metric name."""
    return re.sub(r"[^\w\-./ ]", "_", name)
