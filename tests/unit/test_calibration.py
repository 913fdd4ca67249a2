"""Per-scenario Platt and isotonic calibration: better log loss, pass-through, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss

from autotask.models.calibration import ScenarioCalibrator


def miscalibrated(n: int, seed: int):
    """Scores that are over-confident and shifted differently per scenario."""
    rng = np.random.default_rng(seed)
    scenarios = rng.choice(["hotel", "store", "cruise"], size=n)
    p = rng.uniform(0.05, 0.95, size=n)
    labels = (rng.uniform(size=n) < p).astype(float)
    shift = np.select([scenarios == "hotel", scenarios == "store"], [1.5, -1.0], 0.5)
    scores = 1 / (1 + np.exp(-(2.5 * np.log(p / (1 - p)) + shift)))
    return scores, labels, scenarios


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_improves_log_loss(method):
    calibrator = ScenarioCalibrator(method).fit(*miscalibrated(4000, seed=0))
    scores, labels, scenarios = miscalibrated(4000, seed=1)
    calibrated = calibrator.transform(scores, scenarios)
    assert np.all((calibrated >= 0) & (calibrated <= 1))
    assert log_loss(labels, calibrated) < log_loss(labels, scores) - 0.02


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_unseen_and_single_class_scenarios_pass_through(method):
    scores, labels, scenarios = miscalibrated(2000, seed=0)
    labels[scenarios == "cruise"] = 1.0
    calibrator = ScenarioCalibrator(method).fit(scores, labels, scenarios)
    assert set(calibrator.params) == {"hotel", "store"}
    new = np.array([0.2, 0.7, 0.4])
    out = calibrator.transform(new, np.array(["clinic", "cruise", "hotel"]))
    assert out[:2].tolist() == [0.2, 0.7]
    assert out[2] != 0.4


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_json_round_trip(method, tmp_path):
    calibrator = ScenarioCalibrator(method).fit(*miscalibrated(2000, seed=0))
    path = tmp_path / "calibration.json"
    calibrator.save(path)
    json.loads(path.read_text())  # plain JSON, no pickle
    loaded = ScenarioCalibrator.load(path)
    scores, _, scenarios = miscalibrated(500, seed=2)
    assert np.array_equal(loaded.transform(scores, scenarios), calibrator.transform(scores, scenarios))


def test_unknown_method():
    with pytest.raises(ValueError, match="calibration method must be one of"):
        ScenarioCalibrator("beta")
