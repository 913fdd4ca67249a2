"""The model-selection metric: mean per-scenario ROC AUC over seen scenarios (task id > 0)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def mean_seen_roc_auc(labels: np.ndarray, scores: np.ndarray, task_ids: np.ndarray) -> float:
    """Average over seen scenarios of each scenario's ROC AUC; scenarios with one class are skipped."""
    aucs = []
    for task in np.unique(task_ids[task_ids > 0]):
        mask = task_ids == task
        if len(np.unique(labels[mask])) == 2:
            aucs.append(roc_auc_score(labels[mask], scores[mask]))
    return float(np.mean(aucs)) if aucs else float("nan")
