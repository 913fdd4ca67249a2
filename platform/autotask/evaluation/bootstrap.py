"""Paired bootstrap intervals for the per-scenario ROC/PR AUC delta between two models on the same rows.

Rows are paired by `row_id`. Each resample draws queries with replacement (a cluster bootstrap) when the rows
carry a `query_id`, rows otherwise; one resample weights every scenario, so the interval of the mean over seen
scenarios is coherent with the per-scenario ones. A model may be several runs (seeds): its AUC is then the
mean of its runs' AUCs on the same resample.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autotask.evaluation.fast_auc import SortedScores, weighted_aucs
from autotask.evaluation.metric_set import METRIC_NAMES

MEAN_SEEN = "mean (seen)"
DELTA_COLUMNS = ["scenario", "seen", "metric", "delta", "low", "high", "significant", "n", "clusters"]
_CELLS_PER_CHUNK = 4_000_000  # resamples x rows held in memory at once


@dataclass(frozen=True)
class Paired:
    """Rows shared by every run, aligned: labels, scenarios, clusters and one score row per run."""

    labels: np.ndarray
    scenarios: np.ndarray
    seen: np.ndarray
    clusters: np.ndarray | None
    model: np.ndarray  # (runs, rows)
    baseline: np.ndarray  # (runs, rows)


def pair_runs(model: Sequence[pd.DataFrame], baseline: Sequence[pd.DataFrame], model_col: str = "score",
              baseline_col: str = "score") -> Paired:
    """Inner-join the runs' predictions on row_id; the runs must agree on every shared row's label."""
    keep = [c for c in ("row_id", "scenario", "seen", "label", "query_id") if c in baseline[0].columns]
    joined = baseline[0][keep]
    runs = [(f, model_col) for f in model] + [(f, baseline_col) for f in baseline]
    for i, (frame, column) in enumerate(runs):
        part = frame[["row_id", "label", column]].rename(columns={"label": f"label{i}", column: f"s{i}"})
        joined = joined.merge(part, on="row_id", how="inner", validate="one_to_one")
        if (joined[f"label{i}"] != joined["label"]).any():
            raise ValueError("runs disagree on the labels of rows with the same row_id: not the same dataset")
    scores = joined[[f"s{i}" for i in range(len(runs))]].to_numpy(dtype=np.float64).T
    if np.isnan(scores).any():
        raise ValueError(f"NaN scores in column {model_col!r} or {baseline_col!r}")
    clusters = pd.factorize(joined["query_id"])[0] if "query_id" in joined.columns else None
    if clusters is not None and (clusters < 0).any():  # a missing query id is its own cluster
        missing = clusters < 0
        clusters[missing] = clusters.max() + 1 + np.arange(missing.sum())
    return Paired(joined["label"].to_numpy(), joined["scenario"].astype(str).to_numpy(),
                  joined["seen"].to_numpy(dtype=bool), clusters, scores[: len(model)], scores[len(model):])


def resample_weights(n: int, clusters: np.ndarray | None, resamples: int,
                     rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chunks of row weights (resamples, n): how often each row is drawn when clusters (or rows) are drawn."""
    clusters = np.arange(n) if clusters is None else clusters
    q = int(clusters.max()) + 1 if n else 0
    chunk = max(1, min(resamples, _CELLS_PER_CHUNK // max(n, q, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.integers(0, q, size=(size, q)) + (np.arange(size) * q)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * q).reshape(size, q)
        yield counts[:, clusters].astype(np.float64)


@dataclass(frozen=True)
class _Group:
    """The rows of one scenario (or of all seen scenarios) and the runs' scores sorted within them."""

    name: str
    seen: bool
    rows: np.ndarray
    model: list[SortedScores]
    baseline: list[SortedScores]

    @classmethod
    def of(cls, paired: Paired, name: str, seen: bool, rows: np.ndarray) -> _Group:
        def sort(scores: np.ndarray) -> list[SortedScores]:
            return [SortedScores.of(paired.labels[rows], run[rows]) for run in scores]

        return cls(name, seen, rows, sort(paired.model), sort(paired.baseline))

    def deltas(self, weights: np.ndarray) -> np.ndarray:
        """(2 metrics, B): mean over model runs minus mean over baseline runs, for row weights (B, rows)."""
        def mean_aucs(runs: list[SortedScores]) -> np.ndarray:
            return np.mean([np.stack(weighted_aucs(s, weights)) for s in runs], axis=0)

        return mean_aucs(self.model) - mean_aucs(self.baseline)


def scenario_deltas(paired: Paired, resamples: int = 1000, seed: int = 0,
                    level: float = 0.95) -> pd.DataFrame:
    """Delta (model - baseline) of ROC and PR AUC per scenario and for the mean over seen scenarios."""
    rows_of = {s: np.flatnonzero(paired.scenarios == s) for s in dict.fromkeys(paired.scenarios)}
    groups = [_Group.of(paired, s, bool(paired.seen[rows[0]]), rows) for s, rows in rows_of.items()]

    def deltas(weights: np.ndarray) -> np.ndarray:  # (scenarios, 2, B)
        return np.stack([g.deltas(weights[:, g.rows]) for g in groups])

    point = deltas(np.ones((1, len(paired.labels))))[:, :, 0]
    rng = np.random.default_rng(seed)
    chunks = resample_weights(len(paired.labels), paired.clusters, resamples, rng)
    draws = np.concatenate([deltas(w) for w in chunks], axis=2)
    seen = np.array([g.seen for g in groups])
    summaries = [(g.name, g.seen, g.rows) for g in groups]
    if seen.any():  # the mean over seen scenarios, resample by resample
        point = np.vstack([point, np.nanmean(point[seen], axis=0, keepdims=True)])
        draws = np.concatenate([draws, np.nanmean(draws[seen], axis=0, keepdims=True)])
        summaries.append((MEAN_SEEN, True, np.flatnonzero(paired.seen)))
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=2)
    rows = [
        (name, is_seen, metric, point[i, m], low[i, m], high[i, m], bool(low[i, m] > 0 or high[i, m] < 0),
         len(members), _n_clusters(paired.clusters, members))
        for i, (name, is_seen, members) in enumerate(summaries)
        for m, metric in enumerate(METRIC_NAMES)
    ]
    return pd.DataFrame(rows, columns=DELTA_COLUMNS)


def _n_clusters(clusters: np.ndarray | None, rows: np.ndarray) -> int:
    return len(rows) if clusters is None else len(np.unique(clusters[rows]))


def bootstrap_deltas(model: Sequence[pd.DataFrame], baseline: Sequence[pd.DataFrame],
                     model_col: str = "score", baseline_col: str = "score", split: str = "test",
                     resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per-scenario deltas with paired bootstrap intervals between two models' runs on one split."""
    def on_split(frames: Sequence[pd.DataFrame]) -> list[pd.DataFrame]:
        return [f[f["split"] == split] for f in frames]

    paired = pair_runs(on_split(model), on_split(baseline), model_col, baseline_col)
    if not len(paired.labels):
        raise ValueError(f"no rows of split {split!r} shared by the runs (paired by row_id)")
    return scenario_deltas(paired, resamples, seed, level)
