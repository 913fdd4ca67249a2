"""runners/train.py refuses bad input before Ray starts: contract errors and checkpoint/data mismatches."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

TRAIN = ["runners/train.py", "--epochs-pretrain", "1", "--epochs-finetune", "1"]


def _train(repo_root, data, out, *extra) -> subprocess.CompletedProcess:
    command = [sys.executable, *TRAIN, "--data", str(data), "--out", str(out), *extra]
    env = {"COLUMNS": "250", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=120, env=env)


def test_contract_error_stops_before_ray(repo_root, dataset_copy, tmp_path):
    frame = dataset_copy.frame()
    frame.loc[[4, 9], "bm25"] = np.nan
    dataset_copy.write(frame)
    done = _train(repo_root, dataset_copy.path, tmp_path / "run")
    assert done.returncode == 2
    assert "'bm25'" in done.stdout and "rows 4, 9" in done.stdout and str(dataset_copy.part) in done.stdout
    assert not (tmp_path / "run").exists(), "nothing may be written (and Ray never started) for invalid data"
    assert "Started a local Ray instance" not in done.stdout + done.stderr


def test_checkpoint_for_other_features_is_refused(repo_root, dataset_copy, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    manifest = dataset_copy.manifest()
    old = {**manifest, "d": 11, "features": manifest["features"][:-1], "mean": manifest["mean"][:-1],
           "std": manifest["std"][:-1]}
    (run_dir / "model" / "manifest.json").write_text(json.dumps(old))
    done = _train(repo_root, dataset_copy.path, run_dir)
    assert done.returncode == 2
    assert "checkpoint was trained on d=11" in done.stdout and "has d=12" in done.stdout
    assert not (run_dir / "config.json").exists() and not (run_dir / "ray").exists()


def test_checkpoint_for_other_scenarios_is_refused(repo_root, dataset_copy, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    manifest = dataset_copy.manifest()
    (run_dir / "model" / "manifest.json").write_text(json.dumps({**manifest, "scenarios": manifest["scenarios"][::-1]}))
    done = _train(repo_root, dataset_copy.path, run_dir)
    assert done.returncode == 2 and "scenarios" in done.stdout


def test_bad_model_settings_stop_before_ray_and_write_nothing(repo_root, sim_dataset, tmp_path):
    """Model settings and the scoring protocol are checked in the driver, before Ray starts."""
    cases = [(("--set", "unknown=1"), "unknown autotask model config field(s) ['unknown']"),
             (("--set", "n_head1=3"), "n_head1=3 does not divide e1"),
             (("--eval-block-size", "32"), "eval_block_size=32 exceeds the model's block_size=16"),
             (("--unseen", "slot"), "needs task_id_dropout > 0")]
    for extra, message in cases:
        done = _train(repo_root, sim_dataset, tmp_path / "run", *extra)
        assert done.returncode == 2, done.stdout + done.stderr
        assert message in done.stdout and "Traceback" not in done.stdout + done.stderr
        assert not (tmp_path / "run").exists()
