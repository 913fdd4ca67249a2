"""Serving: exported artefacts match eager PyTorch at block size 1; runners/export.py on a real run directory."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from dataclasses import asdict

import numpy as np
import pytest
import torch

from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.models import AutoTask, AutoTaskConfig
from autotask.models.registry import build_model, model_config
from autotask.serving.export import artefact_format, export_model
from autotask.serving.model import ServingModel, example_inputs, load_run_model
from autotask.serving.runtime import eager_predictor, load_predictor
from autotask.training.batches import FEATURES, TARGET, TASK_ID, to_model_inputs
from autotask.training.steps import make_optimizer, train_epoch

FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}


@pytest.fixture(scope="module")
def model() -> AutoTask:
    torch.manual_seed(0)
    return AutoTask(AutoTaskConfig(d=5, n_tasks=3, e1=4, block_size=4, n_head2=4)).eval()


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_matches_eager_within_1e_5_and_shows_no_warning_of_its_own(model, fmt, tmp_path):
    """Only the exporters' known, harmless warnings are filtered (serving/export.py KNOWN_WARNINGS): a new one shows.
    One export per format serves both checks (an ONNX export costs seconds)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = export_model(model, tmp_path / FORMATS[fmt], fmt)
    assert [str(w.message) for w in caught] == []
    predictor = load_predictor(path)
    batches = [example_inputs(5, 3, rows, seed=rows) for rows in (1, 3, 37)]  # any batch size, rows on their own
    features, _ = example_inputs(5, 3, 6, seed=5)
    batches += [(features, torch.zeros(6, dtype=torch.long)), (features, torch.full((6,), 2))]  # all unseen / seen
    for features, task_ids in batches:
        rows = len(task_ids)
        with torch.no_grad():
            eager = model.score(features, task_ids, block_size=1)["score"].numpy()
        served = predictor(features.numpy(), task_ids.numpy())
        assert served.shape == (rows,)
        np.testing.assert_allclose(served, eager, rtol=0, atol=1e-5)


def test_serving_rows_do_not_depend_on_each_other(model):
    features, task_ids = example_inputs(5, 3, 8)
    with torch.no_grad():
        together = ServingModel(model)(features, task_ids)
        alone = torch.cat([ServingModel(model)(features[i:i + 1], task_ids[i:i + 1]) for i in range(8)])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def run_dir(sim_dataset, tmp_path_factory):
    """A run directory's model/ as runners/train.py writes it, from a model trained in-process for one epoch."""
    manifest = load_manifest(sim_dataset)
    inputs = to_model_inputs(read_frame(sim_dataset, splits=("train",)), manifest)
    torch.manual_seed(0)
    model = build_model("autotask", {}, manifest)
    tensors = [torch.from_numpy(inputs[key]) for key in (FEATURES, TASK_ID, TARGET)]
    train_epoch(model, make_optimizer(model, 1e-3), zip(*(t.split(256) for t in tensors), strict=True))
    out = tmp_path_factory.mktemp("run") / "autotask"
    (out / "model").mkdir(parents=True)
    torch.save(model.state_dict(), out / "model" / "weights.pt")
    typed = model_config("autotask", {}, manifest)
    (out / "model" / "model_config.json").write_text(json.dumps({"kind": "autotask", **asdict(typed)}, indent=2))
    manifest.write(out / "model")
    return out, inputs


@pytest.mark.parametrize("name, fmt", [("model.bin", "onnx"), ("model.pt", "torchscript")])
def test_export_runner_writes_onnx_by_default_and_torchscript_for_pt_with_a_note(run_dir, name, fmt, repo_root,
                                                                                   tmp_path):
    out = tmp_path / name
    done = _export(repo_root, "--run", run_dir[0], "--out", out)
    assert done.returncode == 0, done.stderr
    assert artefact_format(out) == fmt and done.stdout.strip() == f"wrote {out}"
    note = "TorchScript is deprecated since PyTorch 2.11"
    assert done.stderr.count(note) == (fmt == "torchscript") and len(done.stderr.splitlines()) == (fmt == "torchscript")
    features, task_ids = run_dir[1][FEATURES][:50], run_dir[1][TASK_ID][:50]
    np.testing.assert_allclose(load_predictor(out)(features, task_ids),
                               eager_predictor(load_run_model(run_dir[0]))(features, task_ids), rtol=0, atol=1e-5)


def _export(repo_root, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / "runners" / "export.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("fmt", FORMATS)
def test_profile_artefact_serves_a_new_scenario_as_the_in_context_mode(run_dir, sim_dataset, fmt, repo_root,
                                                                       tmp_path):
    """`--profile-from DATA --scenario Clinic`: Clinic's rows (task id 0) are served with its profile, each row on
    its own, equal to the in-context score_context; seen rows are served as without a profile."""
    directory, _ = run_dir
    out = tmp_path / FORMATS[fmt]
    done = _export(repo_root, "--run", directory, "--out", out, "--format", fmt, "--profile-from", sim_dataset,
                   "--scenario", "Clinic")
    assert done.returncode == 0, done.stderr
    manifest = load_manifest(sim_dataset)
    test = to_model_inputs(read_frame(sim_dataset, splits=("test",)), manifest)
    clinic = test["group"] == manifest.all_scenarios.index("Clinic")
    features, zeros = test[FEATURES][clinic], np.zeros(int(clinic.sum()), np.int64)
    model = load_run_model(directory)
    with torch.no_grad():
        context = model.in_context_scores(torch.from_numpy(features), torch.from_numpy(zeros), 1)["score_context"]
    served = load_predictor(out)
    np.testing.assert_allclose(served(features, zeros), context.numpy(), rtol=0, atol=1e-5)
    assert np.abs(served(features, zeros) - eager_predictor(model)(features, zeros)).max() > 1e-4
    seen = test[TASK_ID] > 0
    np.testing.assert_allclose(served(test[FEATURES][seen][:300], test[TASK_ID][seen][:300]),
                               eager_predictor(model)(test[FEATURES][seen][:300], test[TASK_ID][seen][:300]),
                               rtol=0, atol=1e-5)


def test_profile_of_a_seen_scenario_is_refused(run_dir, sim_dataset, repo_root, tmp_path):
    done = _export(repo_root, "--run", run_dir[0], "--out", tmp_path / "m.onnx", "--profile-from", sim_dataset,
                   "--scenario", "Hotel")
    assert done.returncode == 2 and "'Hotel' is a seen scenario" in done.stderr
    assert not (tmp_path / "m.onnx").exists()
