"""The report's metric set, defined once: every per-scenario table, bootstrap interval and summary reads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


@dataclass(frozen=True)
class Metric:
    """`name`: the column in metrics.parquet and every table; `compute(labels, scores)`: the exact value (the
    bootstrap's weighted fast path, evaluation/fast_auc.py, is tested equal to it); `higher_is_better`; values are
    shown multiplied by `scale` in `unit`."""

    name: str
    label: str
    compute: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool = True
    scale: float = 100.0
    unit: str = "%"

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})"

    def shown(self, value: float, digits: int = 1) -> str:
        return f"{self.scale * value:.{digits}f}"


ROC_AUC = Metric("roc_auc", "ROC AUC", roc_auc_score)
PR_AUC = Metric("pr_auc", "PR AUC", average_precision_score)  # average precision
METRICS = (ROC_AUC, PR_AUC)
METRIC_NAMES = tuple(metric.name for metric in METRICS)
