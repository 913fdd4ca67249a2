"""Rank-based ROC AUC and average precision for many weightings of the same rows at once.

A bootstrap resample is a vector of non-negative counts per row; AUCs computed with those counts as weights
equal the AUCs of the resampled (duplicated) rows, so one sort per score vector serves every resample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAST_METRICS = ("roc_auc", "pr_auc")  # the metric set's names of what `fast_aucs` returns, in order


@dataclass(frozen=True)
class SortedScores:
    """Rows ordered by descending score, with the start of every group of tied scores."""

    order: np.ndarray
    positive: np.ndarray
    tie_starts: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray, scores: np.ndarray) -> SortedScores:
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
        ranked = np.asarray(scores, dtype=np.float64)[order]
        starts = np.concatenate([[0], np.flatnonzero(ranked[1:] != ranked[:-1]) + 1])
        return cls(order, np.asarray(labels)[order].astype(bool), starts)

    def class_weights(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative weight per tie group, highest scores first: two (B, groups) arrays."""
        w = np.atleast_2d(weights)[:, self.order]
        pos = np.add.reduceat(np.where(self.positive, w, 0.0), self.tie_starts, axis=1)
        neg = np.add.reduceat(np.where(self.positive, 0.0, w), self.tie_starts, axis=1)
        return pos, neg


def weighted_aucs(sorted_scores: SortedScores, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ROC AUC, average precision) for each row of `weights` (B, n); NaN where a class has no weight."""
    pos, neg = sorted_scores.class_weights(weights)
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    cum_pos, cum_neg = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    below = total_neg[:, None] - cum_neg  # negative weight scored strictly lower than the group
    valid = (total_pos > 0) & (total_neg > 0)
    roc = (pos * (below + 0.5 * neg)).sum(axis=1) / np.where(valid, total_pos * total_neg, 1.0)
    seen = cum_pos + cum_neg
    precision = np.divide(cum_pos, seen, out=np.zeros_like(cum_pos), where=seen > 0)
    ap = (pos * precision).sum(axis=1) / np.where(valid, total_pos, 1.0)
    return np.where(valid, roc, np.nan), np.where(valid, ap, np.nan)


def fast_aucs(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Unweighted (ROC AUC, average precision) through the same code path as the bootstrap."""
    roc, ap = weighted_aucs(SortedScores.of(labels, scores), np.ones((1, len(labels))))
    return float(roc[0]), float(ap[0])
