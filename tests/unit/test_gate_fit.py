"""AutoTask's gate fitted again on its own after training (training/gate_fit.py): it replaces the jointly trained
gate only when better on validation, is reproducible, and runs only where the config asks for it."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from autotask.models import AutoTask, AutoTaskConfig
from autotask.models.registry import stored_model_config
from autotask.training import gate_fit
from autotask.training.batches import FEATURES, TASK_ID
from autotask.training.feeds import MemorySplit
from autotask.training.gate_fit import fit_gate_after_training, log_likelihood, refit_gate, seen_rows

D, N_TASKS = 4, 3


def _split(rows: int, seed: int, unseen: int = 0) -> MemorySplit:
    """Rows whose scenario shifts the features' means (so the task is predictable from x), ids 1..3 (and some 0)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, N_TASKS + 1, rows)
    features = rng.normal(size=(rows, D)).astype(np.float32) + np.eye(N_TASKS, D, dtype=np.float32)[ids - 1] * 1.5
    ids[:unseen] = 0
    return MemorySplit({FEATURES: features, TASK_ID: ids})


def _model(**overrides) -> AutoTask:
    torch.manual_seed(0)
    return AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, **{"gate_fit": "refit", **overrides}))


def test_the_refit_replaces_an_unfitted_gate_with_a_better_one_and_repeats():
    splits = {"train": _split(3000, 0, unseen=100), "pretrain": _split(1000, 1), "valid": _split(600, 2)}
    model, again = _model(), _model()
    valid = seen_rows([splits["valid"].arrays], 10_000, 0)
    before = log_likelihood(model.gate, *valid)
    record = fit_gate_after_training(model, lambda: splits, seed=3)
    assert record["kept"] == "refit" and record["rows"] == 3900  # the seen rows of train and pool
    assert record["valid_log_likelihood"]["joint"] == before < record["valid_log_likelihood"]["refit"]
    assert log_likelihood(model.gate, *valid) == record["valid_log_likelihood"]["refit"]
    assert fit_gate_after_training(again, lambda: splits, seed=3) == record
    assert torch.equal(model.gate.weight, again.gate.weight)


def test_a_jointly_trained_gate_better_on_validation_is_kept(monkeypatch):
    splits = {"train": _split(3000, 0), "valid": _split(600, 2)}
    model = _model()
    train, valid = seen_rows([splits["train"].arrays], 10_000, 0), seen_rows([splits["valid"].arrays], 10_000, 0)
    refit_gate(model.gate, train, valid, seed=0)  # a converged gate stands in for a well-trained joint one
    trained = model.gate.weight.clone()
    monkeypatch.setattr(gate_fit, "GATE_FIT_MAX_EPOCHS", 1)  # a refit that cannot catch up
    assert refit_gate(model.gate, train, valid, seed=1)["kept"] == "joint"
    assert torch.equal(model.gate.weight, trained)


def test_only_a_gated_model_asking_for_it_is_refitted():
    splits = {"train": _split(300, 0), "valid": _split(100, 1)}
    joint = _model(gate_fit="joint")
    weights = joint.gate.weight.clone()
    assert fit_gate_after_training(joint, lambda: splits, seed=0) is None and torch.equal(joint.gate.weight, weights)
    gateless = _model(unseen="slot", task_id_dropout=0.1, gate_fit="joint")
    assert fit_gate_after_training(gateless, lambda: splits, 0) is None
    with pytest.raises(ValueError, match="gate_fit='refit' needs a gate"):
        _model(unseen="slot", task_id_dropout=0.1)  # no gate to refit
    no_valid = {"train": _split(300, 0), "valid": _split(50, 1, unseen=50)}
    assert fit_gate_after_training(_model(), lambda: no_valid, seed=0)["kept"] == "joint"


def test_the_refit_is_a_switch_and_runs_saved_before_it_existed_read_as_joint():
    saved = {k: v for k, v in asdict(AutoTaskConfig(d=D, n_tasks=N_TASKS, gate_fit="refit")).items()
             if k != "gate_fit"}
    assert stored_model_config(json.loads(json.dumps({"kind": "autotask", **saved}))).gate_fit == "joint"
    assert AutoTaskConfig(d=D, n_tasks=N_TASKS).gate_fit == "joint"  # not adopted: lost on the benchmark worlds


def test_a_large_training_set_is_sampled_reproducibly():
    arrays = [_split(5000, 0, unseen=1000).arrays]
    features, labels = seen_rows(arrays, 1000, seed=7)
    again, _ = seen_rows(arrays, 1000, seed=7)
    assert len(labels) == 1000 and labels.min() >= 0 and torch.equal(features, again)
