"""Fast weighted AUCs against sklearn; the paired (cluster) bootstrap of AUC deltas."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from autotask.evaluation.bootstrap import MEAN_SEEN, bootstrap_deltas, resample_weights
from autotask.evaluation.fast_auc import SortedScores, weighted_aucs


def predictions(n: int = 5000, strength: float = 0.5, seed: int = 0,
                base: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of 5 scenarios (one unseen) in queries of 4; score = strength * label + noise."""
    rng = np.random.default_rng(seed)
    if base is None:
        scenario = rng.choice(list("abcde"), n)
        base = pd.DataFrame({"row_id": np.arange(n), "scenario": scenario, "seen": scenario != "e",
                             "split": "test", "label": rng.integers(0, 2, n), "query_id": np.arange(n) // 4})
    return base.assign(score=strength * base["label"] + rng.normal(size=len(base)))


@pytest.mark.parametrize("decimals", [0, 1, 6])
def test_weighted_aucs_equal_sklearn_with_ties_and_weights(decimals):
    rng = np.random.default_rng(decimals)
    labels = rng.integers(0, 2, 400)
    scores = np.round(labels + rng.normal(size=400), decimals)
    weights = rng.integers(0, 4, size=(3, 400)).astype(float)
    roc, ap = weighted_aucs(SortedScores.of(labels, scores), weights)
    for i, w in enumerate(weights):
        assert roc[i] == pytest.approx(roc_auc_score(labels, scores, sample_weight=w), abs=1e-12)
        assert ap[i] == pytest.approx(average_precision_score(labels, scores, sample_weight=w), abs=1e-12)


def test_cluster_resampling_draws_whole_queries():
    clusters = np.arange(20) // 4
    weights = np.concatenate(list(resample_weights(20, clusters, 50, np.random.default_rng(0))))
    assert weights.shape == (50, 20)
    assert (weights.reshape(50, 5, 4) == weights.reshape(50, 5, 4)[:, :, :1]).all()
    assert (weights.sum(axis=1) == 20).all()


def test_clearly_better_excludes_zero_identical_does_not():
    base = predictions()
    better = predictions(strength=2.0, seed=1, base=base)
    deltas = bootstrap_deltas([better], [base], resamples=300).set_index(["scenario", "metric"])
    assert deltas["significant"].all() and (deltas["low"] > 0).all()
    assert deltas.loc[(MEAN_SEEN, "roc_auc"), "n"] == base["seen"].sum()
    same = bootstrap_deltas([base.copy()], [base], resamples=100)
    assert not same["significant"].any() and (same[["delta", "low", "high"]] == 0).all().all()


def test_seeded_and_paired_by_row_id():
    base = predictions()
    other = predictions(strength=0.6, seed=2, base=base)
    shuffled = other.sample(frac=1.0, random_state=0)
    first = bootstrap_deltas([other], [base], resamples=200, seed=3)
    pd.testing.assert_frame_equal(first, bootstrap_deltas([shuffled], [base], resamples=200, seed=3))
    assert not first.equals(bootstrap_deltas([other], [base], resamples=200, seed=4))
    with pytest.raises(ValueError, match="labels"):
        bootstrap_deltas([other.assign(label=1 - other["label"])], [base], resamples=10)


def test_thousand_resamples_over_5000_rows_take_seconds():
    base = predictions()
    start = time.perf_counter()
    bootstrap_deltas([predictions(strength=0.7, seed=1, base=base)], [base], resamples=1000)
    assert time.perf_counter() - start < 10  # ~0.5 s alone; generous for a shared 2-core machine
