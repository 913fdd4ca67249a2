"""The Ray-free step benchmarks on tiny in-memory data: the batch-size table (rows/s and the AUC each batch size
reaches) and the one-epoch profile's top operators."""

from __future__ import annotations

import json

import torch

from autotask.benchmarks.profile import profiled_epoch, top_operators
from autotask.benchmarks.steps import AUC_BATCHES, _Curve, batch_auc_rows
from autotask.data.manifest import Manifest
from autotask.training.batches import FEATURES, TARGET, TASK_ID

D, N_TASKS = 4, 3


def _manifest() -> Manifest:
    return Manifest.from_dict({"features": [f"f{i}" for i in range(D)], "scenarios": ["a", "b", "c"],
                               "unseen": ["z"], "mean": [0.0] * D, "std": [1.0] * D})


def _tensors(rows: int, seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(rows, D, generator=generator)
    task_ids = torch.randint(1, N_TASKS + 1, (rows,), generator=generator)
    return {FEATURES: features, TASK_ID: task_ids, TARGET: (features[:, 0] + 0.3 * task_ids > 0.6).float()}


def test_batch_table_trains_each_batch_size_until_validation_stops_improving():
    rows = batch_auc_rows(_tensors(2048, 0), _tensors(512, 1), _tensors(512, 2), _manifest(), "cpu", max_epochs=3,
                          patience=1)
    assert [row["name"] for row in rows] == [f"batch {size}, CPU" for size in AUC_BATCHES]
    assert all(row["rows_per_s"] > 0 and 0.5 < row["valid_roc_auc"] <= 1.0 and 0.5 < row["test_roc_auc"] <= 1.0
               for row in rows)
    assert all(1 <= row["epochs"] <= 3 and row["seconds_to_best"] > 0 for row in rows)
    assert rows[0]["auc_vs_256"] == 0.0 and all("sqrt" in row["note"] for row in rows)
    json.dumps(rows)  # the suite writes them as they are


def test_a_batch_size_stops_after_patience_epochs_without_a_better_validation_auc():
    curve = _Curve(feed=None, trained=(), valid=[0.7, 0.8, 0.79, 0.8])
    assert curve.best == 1 and not curve.done(max_epochs=10, patience=3)
    curve.valid.append(0.75)
    assert curve.done(max_epochs=10, patience=3) and curve.done(max_epochs=5, patience=9)


def test_profile_ranks_an_epochs_operators_by_self_time():
    ops = top_operators(profiled_epoch(_tensors(1024, 0), _manifest(), "cpu"), "cpu", "CPU epoch", top=5)
    assert len(ops) == 5 and ops[0]["self_ms"] >= ops[-1]["self_ms"] > 0
    assert 0 < sum(op["share"] for op in ops) <= 1.0 and all(op["calls"] >= 1 for op in ops)
    assert any(op["name"].startswith("aten::") for op in ops)
