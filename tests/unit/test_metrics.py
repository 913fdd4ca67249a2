"""scenario_metrics: one row per (scenario, split), equal to sklearn on the gathered scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from autotask.evaluation.metrics import COLUMNS, scenario_metrics


@pytest.fixture
def predictions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 900
    scenario = rng.choice(["Hotel", "Store", "Clinic"], n)
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({"scenario": scenario, "split": rng.choice(["valid", "test"], n),
                          "seen": scenario != "Clinic", "label": label, "score": label + rng.normal(size=n)})
    frame["score_calibrated"] = 1 / (1 + np.exp(-frame["score"]))
    return frame


def test_one_row_per_scenario_and_split_equal_to_sklearn(predictions):
    metrics = scenario_metrics(predictions)
    assert list(metrics.columns) == COLUMNS and len(metrics) == 6
    for row in metrics.itertuples():
        rows = predictions[(predictions["scenario"] == row.scenario) & (predictions["split"] == row.split)]
        assert (row.n, row.positives, row.seen) == (len(rows), rows["label"].sum(), row.scenario != "Clinic")
        assert row.roc_auc == pytest.approx(roc_auc_score(rows["label"], rows["score"]), abs=1e-12)
        assert row.pr_auc == pytest.approx(average_precision_score(rows["label"], rows["score"]), abs=1e-12)


def test_tied_scores_equal_sklearn(predictions):
    """Rounded scores tie within and across classes: ROC AUC counts a tie as half, PR AUC steps once per score."""
    predictions["score"] = predictions["score"].round(0)
    for row in scenario_metrics(predictions).itertuples():
        rows = predictions[(predictions["scenario"] == row.scenario) & (predictions["split"] == row.split)]
        assert row.roc_auc == pytest.approx(roc_auc_score(rows["label"], rows["score"]), abs=1e-12)
        assert row.pr_auc == pytest.approx(average_precision_score(rows["label"], rows["score"]), abs=1e-12)


def test_score_column_and_single_class(predictions):
    predictions.loc[predictions["scenario"] == "Clinic", "label"] = 1
    metrics = scenario_metrics(predictions, score_col="score_calibrated").set_index(["scenario", "split"])
    assert metrics.loc[("Clinic", "test"), ["roc_auc", "pr_auc"]].isna().all()
    hotel = predictions[(predictions["scenario"] == "Hotel") & (predictions["split"] == "test")]
    expected = roc_auc_score(hotel["label"], hotel["score_calibrated"])
    assert metrics.loc[("Hotel", "test"), "roc_auc"] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(KeyError, match="score_task"):
        scenario_metrics(predictions, score_col="score_task")


def test_one_metric_set_feeds_metrics_bootstrap_and_tables():
    """Every per-scenario frame, delta and panel is keyed by the metric set's names, in its order."""
    import numpy as np
    import pandas as pd

    from autotask.evaluation.bootstrap import bootstrap_deltas
    from autotask.evaluation.metric_set import METRIC_NAMES, METRICS
    from autotask.evaluation.metrics import COLUMNS, binary_aucs
    from autotask.reporting.display import PANELS

    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, 400), rng.random(400)
    assert binary_aucs(labels, scores) == tuple(metric.compute(labels, scores) for metric in METRICS)
    assert COLUMNS[-len(METRICS):] == list(METRIC_NAMES) and list(PANELS) == list(METRIC_NAMES)
    frame = pd.DataFrame({"row_id": range(400), "scenario": "A", "seen": True, "label": labels, "split": "test",
                          "score": scores})
    deltas = bootstrap_deltas([frame], [frame.assign(score=1 - scores)], resamples=20)
    assert tuple(dict.fromkeys(deltas["metric"])) == METRIC_NAMES


def test_nan_scores_and_non_binary_labels_are_refused(predictions):
    """A diverged model's NaN scores have no AUC (scikit-learn refused them too), nor do labels other than 0/1."""
    predictions.loc[predictions.index[:3], "score"] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite value"):
        scenario_metrics(predictions)
    predictions["score"] = predictions["score"].fillna(0.0)
    predictions.loc[predictions.index[:2], "label"] = 2
    with pytest.raises(ValueError, match=r"0 or 1, got \[2\]"):
        scenario_metrics(predictions)
