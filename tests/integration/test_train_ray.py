"""Real Ray: training with 2 Train workers fed by Ray Data, outputs, resume, LightGBM as a Ray task."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from autotask.config import RunConfig, TrainingConfig
from autotask.data.contract import ROW_ID
from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.models.interface import SERVING_BLOCK_SIZE
from autotask.runtime.run import train_run
from autotask.serving.model import ServingModel, load_run_model
from autotask.training.batches import FEATURES, TARGET, TASK_ID
from autotask.training.loop import minibatches
from autotask.training.outputs import read_eval_frame

pytestmark = pytest.mark.ray

FAST = dict(epochs_pretrain=1, epochs_finetune=2, batch_size=256, patience=5)


def _run(dataset, model="autotask", workers=2, **training) -> RunConfig:
    training = TrainingConfig(workers=workers, **{**FAST, **training})
    return RunConfig(data=str(dataset), model=model, seed=1, training=training)


@pytest.fixture(scope="module")
def two_worker_run(ray_session, tiny_dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "autotask"
    # the switches' paths through Ray Train too: the gate refitted, then recalibrated for `em` profiles
    run = replace(_run(tiny_dataset), model_config={"gate_fit": "refit", "profile": "em"})
    metrics = train_run(run, run_dir)
    return run, run_dir, metrics


def test_two_workers_write_every_output(two_worker_run, tiny_dataset):
    run, run_dir, metrics = two_worker_run
    assert RunConfig.read(run_dir / "config.json") == run
    assert {"scenario", "split", "seen", "n", "positives", "roc_auc", "pr_auc"} <= set(metrics.columns)
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    assert set(predictions["split"]) == {"valid", "calib", "test"}
    expected = read_frame(tiny_dataset, splits=("valid", "calib", "test"))
    assert sorted(predictions["row_id"]) == sorted(expected["row_id"])
    assert {"score", "score_calibrated", "oracle_p", "query_id", "task_id", "seen"} <= set(predictions.columns)
    assert predictions["score"].between(0, 1).all()
    unseen = predictions[~predictions["seen"]]
    assert set(unseen["scenario"]) == {"Clinic", "Home"} and (unseen["task_id"] == 0).all()
    test = metrics[(metrics["split"] == "test") & (metrics["score_col"] == "score")]
    assert test[test["seen"]]["roc_auc"].mean() > 0.6
    for name in ("weights.pt", "model_config.json", "manifest.json", "calibration.json"):
        assert (run_dir / "model" / name).exists()
    gate = json.loads((run_dir / "model" / "history.json").read_text())["gate_fit"]  # refitted after training
    likelihood = gate["valid_log_likelihood"]
    assert gate["rows"] > 0 and gate["epochs"] >= 1
    assert (likelihood["refit"] > likelihood["joint"]) == (gate["kept"] == "refit")
    calibration = json.loads((run_dir / "model" / "history.json").read_text())["gate_calibration"]
    assert calibration["calibrated"] and calibration["rows"] > 0
    weights = torch.load(run_dir / "model" / "weights.pt", weights_only=True)
    assert float(weights["gate_calibration_counts"].sum()) == calibration["rows"]


def test_each_worker_saw_a_different_shard(two_worker_run, tiny_dataset):
    _, run_dir, _ = two_worker_run
    history = json.loads((run_dir / "model" / "history.json").read_text())["history"]
    first = history[0]["shard_rows"]
    assert len(first) == 2 and all(shard["rows"] > 0 for shard in first)
    pretrain = read_frame(tiny_dataset, splits=("pretrain",))
    assert sum(shard["rows"] for shard in first) <= len(pretrain)
    assert first[0]["row_id_sum"] != first[1]["row_id_sum"]


def test_seen_means_count_every_workers_rows(two_worker_run):
    """The `moments` profile's seen means hold both workers' training rows up to the best epoch, not rank 0's alone
    (DDP copies rank 0's buffers to every worker at each forward)."""
    _, run_dir, _ = two_worker_run
    history = json.loads((run_dir / "model" / "history.json").read_text())["history"]
    best = max(range(len(history)), key=lambda epoch: history[epoch]["valid_roc_auc"])  # the first best epoch
    rows = sum(shard["rows"] for epoch in history[:best + 1] for shard in epoch["shard_rows"])
    weights = torch.load(run_dir / "model" / "weights.pt", weights_only=True)
    assert float(weights["seen_counts"].sum()) == rows


def test_rerun_reuses_finished_run(two_worker_run):
    run, run_dir, metrics = two_worker_run
    before = (run_dir / "metrics.parquet").stat().st_mtime_ns
    again = train_run(run, run_dir)
    assert (run_dir / "metrics.parquet").stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(again, metrics)


def test_lightgbm_runs_as_a_ray_task(ray_session, tiny_dataset, tmp_path):
    metrics = train_run(_run(tiny_dataset, model="lightgbm", workers=1), tmp_path / "lgb")
    predictions = pd.read_parquet(tmp_path / "lgb" / "predictions.parquet")
    assert np.isfinite(predictions["score"]).all()
    test = metrics[(metrics["split"] == "test") & metrics["seen"]]
    assert test["roc_auc"].mean() > 0.6


def test_saved_scores_are_the_served_scores_under_the_recorded_protocol(two_worker_run, tiny_dataset):
    """Scoring ran on Ray Data actors under the run's protocol (eval_block_size, recorded in config.json and every
    metrics row); the serving wrapper of the saved model (block size 1) gives the same score for every row."""
    run, run_dir, metrics = two_worker_run
    assert json.loads((run_dir / "config.json").read_text())["training"]["eval_block_size"] == SERVING_BLOCK_SIZE
    assert (metrics["eval_block_size"] == SERVING_BLOCK_SIZE).all()
    manifest = load_manifest(tiny_dataset)
    served = ServingModel(load_run_model(run_dir))
    frame, inputs = read_eval_frame(str(tiny_dataset), manifest)
    with torch.no_grad():
        expected = served(torch.from_numpy(inputs["features"]), torch.from_numpy(inputs["task_id"])).numpy()
    predictions = pd.read_parquet(run_dir / "predictions.parquet").set_index("row_id").loc[frame["row_id"]]
    np.testing.assert_allclose(predictions["score"].to_numpy(), expected, atol=1e-6)
    assert (~predictions["seen"]).sum() > 0  # unseen rows (the mixture over seen ids) are among them


def test_every_epoch_draws_a_new_minibatch_order(ray_session):
    """The local shuffle is seeded per epoch: epochs differ, and the same epoch of the same seed repeats."""
    import ray.data

    rows = [{FEATURES: np.zeros(2, np.float32), TASK_ID: 1, TARGET: 0.0, ROW_ID: i} for i in range(2_000)]
    dataset = ray.data.from_items(rows).materialize()
    run = _run("unused", batch_size=64, shuffle_buffer=512)
    orders = [torch.cat([batch[3] for batch in minibatches(dataset, run, "cpu", epoch)]) for epoch in (0, 1, 2, 0)]
    assert sorted(orders[0].tolist()) == list(range(2_000))
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert torch.equal(orders[0], orders[3])


def test_one_worker_trains_in_process_and_resumes_from_its_checkpoint(ray_session, tiny_dataset, tmp_path):
    """A 1-worker CPU run trains in the driver (no Train worker group), checkpointing in RUN_DIR/ray/local; a run
    interrupted after its last checkpoint resumes there instead of starting over, with the same scores."""
    run_dir = tmp_path / "local"
    train_run(_run(tiny_dataset, workers=1), run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["provenance"]["execution"] == "in-process"
    state = json.loads((run_dir / "ray" / "local" / "latest" / "state.json").read_text())
    assert state["epoch"] == 3 and state["restarts"] == 0 and not (run_dir / "ray" / "train").exists()
    assert "gate_fit" not in json.loads((run_dir / "model" / "history.json").read_text())  # joint: the default
    before = pd.read_parquet(run_dir / "predictions.parquet")
    checkpoint = (run_dir / "ray" / "local" / "latest" / "state.json").stat().st_mtime_ns
    (run_dir / "metrics.parquet").unlink()  # as if the command died after its last checkpoint
    train_run(_run(tiny_dataset, workers=1), run_dir)
    assert (run_dir / "ray" / "local" / "latest" / "state.json").stat().st_mtime_ns == checkpoint  # no epoch re-run
    assert len(json.loads((run_dir / "model" / "history.json").read_text())["history"]) == 3
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir / "predictions.parquet"), before)


def test_runs_trained_beside_the_driver_equal_runs_trained_in_it(ray_session, tiny_dataset, tmp_path):
    """The quickstart's baselines train in a second process while AutoTask trains in the driver (runtime/beside.py):
    one after another, each reported as it ends, with the predictions a run in the driver gets."""
    from autotask.runtime.beside import BesideRuns, trains_beside

    runs = {"dnn": _run(tiny_dataset, "dnn", workers=1), "lightgbm": _run(tiny_dataset, "lightgbm", workers=1)}
    assert trains_beside(runs["dnn"]) and not trains_beside(_run(tiny_dataset, workers=2))
    ended = []
    beside = BesideRuns(lambda label, metrics: ended.append((label, len(metrics))))
    for label, run in runs.items():
        beside.submit(label, run, tmp_path / "beside" / label)
    results = beside.results()
    assert [label for label, _ in ended] == list(runs) and all(rows > 0 for _, rows in ended)
    assert list(results) == list(runs)
    train_run(runs["dnn"], tmp_path / "here" / "dnn")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "beside" / "dnn" / "predictions.parquet"),
                                  pd.read_parquet(tmp_path / "here" / "dnn" / "predictions.parquet"))


def test_a_run_failing_beside_the_driver_raises_its_own_error(ray_session, tmp_path):
    """Bad input in the second process reaches the driver as the run's own error (a ValueError naming the data), so
    the command reports it like any other bad input; the driver stops waiting at the first failure."""
    from autotask.runtime.beside import BesideRuns

    ended = []
    beside = BesideRuns(lambda label, metrics: ended.append(label))
    beside.submit("bad", RunConfig(data=str(tmp_path / "missing"), model="dnn"), tmp_path / "bad")
    beside.submit("never", RunConfig(data=str(tmp_path / "missing"), model="lightgbm"), tmp_path / "never")
    with pytest.raises(ValueError, match="missing") as raised:
        beside.results()
    assert type(raised.value).__module__.startswith("autotask") and ended == []


def test_weight_averaging_validates_and_saves_the_average(ray_session, tiny_dataset, tmp_path):
    """With weight_average_epochs, the checkpoint keeps the trained weights (to continue training) and the average;
    the run's saved model is the average of its best epoch (here the last), not the trained weights."""
    run_dir = tmp_path / "averaged"
    train_run(_run(tiny_dataset, workers=1, weight_average_epochs=1), run_dir)
    checkpoint = run_dir / "ray" / "local" / "latest"
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["best_epoch"] == state["epoch"] - 1  # the data and seed make the last epoch the best
    trained = torch.load(checkpoint / "model.pt", weights_only=True)
    average = torch.load(checkpoint / "weight_average.pt", weights_only=True)
    saved = torch.load(run_dir / "model" / "weights.pt", weights_only=True)
    parameters = [name for name, _ in load_run_model(run_dir).named_parameters()]
    assert average["updates"] > 0 and len(average["shadow"]) == len(parameters)
    for name, averaged in zip(parameters, average["shadow"], strict=True):
        assert torch.equal(saved[name], averaged)
    assert any(not torch.equal(saved[name], trained[name]) for name in parameters)
