"""AutoTask's gate recalibrated after training for `em` profiles (training/gate_calibration.py): it recovers a known
miscalibration, leaves the gate and the served rules alone, and runs only where the config reads it."""

from __future__ import annotations

import numpy as np
import torch

from autotask.models import AutoTask, AutoTaskConfig
from autotask.models.unseen import EM_SHARE, em_proportions, sharpened_profile
from autotask.training.batches import FEATURES, TASK_ID
from autotask.training.feeds import MemorySplit
from autotask.training.gate_calibration import calibrate_gate_after_training, fit_gate_calibration

D, N_TASKS = 4, 3


def _model(**overrides) -> AutoTask:
    torch.manual_seed(0)
    return AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, **{"unseen": "gated", "profile": "em", **overrides}))


def test_the_recalibration_recovers_a_known_temperature_and_bias_and_leaves_the_gate_alone():
    """Ids drawn from softmax(gate(x) / 2 + b): the fit finds temperature 2 and bias b (up to a constant)."""
    model = _model()
    with torch.no_grad():
        model.gate.weight.mul_(20)
    g = torch.Generator().manual_seed(1)
    features = torch.randn(20_000, D, generator=g)
    true_bias = torch.tensor([0.5, -0.5, 0.0])
    with torch.no_grad():
        posteriors = torch.softmax(model.gate(features) / 2 + true_bias, -1)
    ids = torch.multinomial(posteriors, 1, generator=g).squeeze(1)
    gate_before = model.gate.weight.clone()
    record = fit_gate_calibration(model, features, ids)
    assert abs(record["temperature"] - 2.0) < 0.15
    bias = model.gate_calibration[1:]
    assert torch.allclose(bias - bias.mean(), true_bias - true_bias.mean(), atol=0.1)
    assert record["valid_log_likelihood"]["recalibrated"] > record["valid_log_likelihood"]["gate"]
    assert torch.equal(model.gate_calibration_counts, torch.bincount(ids, minlength=N_TASKS).float())
    assert torch.equal(model.gate.weight, gate_before)  # the served `gated` rule reads the gate as trained
    sample = features[:500]
    expected = (EM_SHARE * em_proportions(model.calibrated_gate(sample), model.gate_calibration_counts,
                                          torch.ones(N_TASKS, dtype=torch.bool))
                + (1 - EM_SHARE) * sharpened_profile(torch.softmax(model.gate(sample), -1).mean(0)))
    assert torch.allclose(model.scenario_profile(sample), expected, atol=1e-6)


def test_only_an_em_model_is_recalibrated_and_only_on_validation_rows():
    rng = np.random.default_rng(0)
    valid = MemorySplit({FEATURES: rng.normal(size=(300, D)).astype(np.float32),
                         TASK_ID: rng.integers(0, N_TASKS + 1, 300)})
    gate_profile = _model(profile="gate")
    assert calibrate_gate_after_training(gate_profile, lambda: 1 / 0, seed=0) is None  # splits never read
    assert not bool(gate_profile.gate_calibration_counts.any())
    model = _model()
    record = calibrate_gate_after_training(model, lambda: {"valid": valid}, seed=0)
    assert record["rows"] == int((valid.arrays[TASK_ID] > 0).sum())
    assert float(model.gate_calibration_counts.sum()) == record["rows"]
