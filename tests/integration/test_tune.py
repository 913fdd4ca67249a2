"""Real searches: Ray Tune + Optuna over AutoTask's facets under d·e1 = e2, early stopping, resume."""

from __future__ import annotations

import signal
import subprocess
import time

import optuna
import pandas as pd
import pytest

from autotask.data.manifest import load_manifest
from autotask.training.config import RunConfig, TrainingConfig
from autotask.tuning.space import SearchSpaceError, check_space, load_space
from autotask.tuning.trial import trial_run_config

BAD_E2 = """
def space(trial, d):
    e1 = trial.suggest_categorical("e1", [4, 8])
    trial.suggest_float("lr_facet1", 1e-4, 1e-2, log=True)
    return {"e2": d * e1 + (e1 == 8)}
"""
BAD_HEADS = """
def space(trial, d):
    trial.suggest_categorical("e1", [6, 8])
    trial.suggest_categorical("n_head1", [4])
"""


@pytest.mark.parametrize(("text", "message"), [(BAD_E2, "d·e1 = e2"), (BAD_HEADS, "n_head1")])
def test_invalid_space_is_rejected_before_any_trial(tiny_dataset, tmp_path, text, message):
    path = tmp_path / "space.py"
    path.write_text(text)
    with pytest.raises(SearchSpaceError, match=message) as caught:
        check_space(load_space(path), load_manifest(tiny_dataset))
    assert str(path) in str(caught.value)


def test_shipped_spaces_are_valid(repo_root, tiny_dataset):
    for name in ("autotask.py", "dnn.py"):
        check_space(load_space(repo_root / "search_spaces" / name), load_manifest(tiny_dataset))


@pytest.mark.ray
@pytest.mark.slow
def test_interrupted_search_resumes_and_keeps_e2_equal_d_e1(repo_root, python, tiny_dataset, tmp_path):
    """A real search from the CLI, Ctrl-C after a finished trial, then --resume: finished trials are kept, every
    trial keeps d·e1 = e2, and best_config.json names a sampled e1 (never e2, which is derived)."""
    out = tmp_path / "search"
    command = [python, "runners/tune.py", "--data", str(tiny_dataset), "--space", "search_spaces/autotask.py",
               "--trials", "2", "--out", str(out), "--epochs-pretrain", "1", "--epochs-finetune", "1",
               "--scheduler", "none", "--seed", "2"]
    first = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not _finished_trials(out):
        time.sleep(1)
    finished = _finished_trials(out)
    assert finished, "no trial finished before the interruption"
    first.send_signal(signal.SIGINT)  # Ctrl-C
    first.wait(timeout=120)
    resumed = subprocess.run([*command, "--resume"], cwd=repo_root, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    frame = pd.read_parquet(out / "trials.parquet")
    assert len(frame) == 2 and (frame["status"] == "TERMINATED").all()
    assert set(finished) <= set(frame["trial_id"])
    d = load_manifest(tiny_dataset).d  # every trial kept d·e1 = e2, and each facet got its own learning rate
    assert (frame["d"] == d).all() and (frame["e2"] == d * frame["e1"]).all()
    assert (frame["lr_facet1"] != frame["lr_facet2"]).all() and frame["best_valid_roc_auc"].between(0.5, 1.0).all()
    best = RunConfig.read(out / "best_config.json")
    assert best.model_config["e1"] in set(frame["e1"]) and "e2" not in best.model_config
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{out / 'optuna.db'}")  # Optuna's own record
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) >= 2 and {t.params["e1"] for t in finished} >= set(frame["e1"])


def _finished_trials(out) -> list[str]:
    """Trials whose every epoch was reported (2 epochs each here)."""
    done = []
    for result in (out / "ray" / "search").glob("run_trial_*/result.json"):
        if len(result.read_text().splitlines()) >= 2:
            done.append(result.parent.name.split("_")[2])
    return done


def test_sampled_epochs_are_capped_by_the_base_run(tiny_dataset):
    base = RunConfig(data=str(tiny_dataset), training=TrainingConfig(epochs_pretrain=1, epochs_finetune=2))
    longer = trial_run_config(base, {"epochs_finetune": 6, "lr_facet1": 1e-3}, "autotask")
    shorter = trial_run_config(base, {"epochs_finetune": 1}, "autotask")
    assert (longer.training.epochs_finetune, shorter.training.epochs_finetune) == (2, 1)
    assert longer.training.lr_facet1 == 1e-3 and longer.training.epochs_pretrain == 1
