"""Per-scenario ROC and PR AUC on gathered scores (AUCs are never averaged across shards)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

COLUMNS = ["scenario", "split", "seen", "n", "positives", "roc_auc", "pr_auc"]


def binary_aucs(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(ROC AUC, PR AUC = average precision); both NaN when only one class is present."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan"), float("nan")
    return float(roc_auc_score(labels, scores)), float(average_precision_score(labels, scores))


def scenario_metrics(predictions: pd.DataFrame, score_col: str = "score") -> pd.DataFrame:
    """One row per (scenario, split): scenario, split, seen, n, positives, roc_auc, pr_auc."""
    missing = [c for c in ("scenario", "split", "seen", "label", score_col) if c not in predictions.columns]
    if missing:
        raise KeyError(f"predictions lack column(s) {missing}")
    rows = []
    for (scenario, split), group in predictions.groupby(["scenario", "split"], sort=False, observed=True):
        labels = group["label"].to_numpy()
        roc, pr = binary_aucs(labels, group[score_col].to_numpy(dtype=np.float64))
        seen = bool(group["seen"].iloc[0])
        rows.append((str(scenario), str(split), seen, len(group), int(labels.sum()), roc, pr))
    return pd.DataFrame(rows, columns=COLUMNS)
