"""Real searches: Ray Tune + Optuna over AutoTask's facets under d·e1 = e2, early stopping, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import optuna
import pandas as pd
import pytest

from autotask.config import RunConfig, TrainingConfig
from autotask.data.manifest import load_manifest
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
    for name in ("autotask.py", "dnn.py", "lightgbm.py"):
        check_space(load_space(repo_root / "search_spaces" / name), load_manifest(tiny_dataset))


@pytest.mark.ray
@pytest.mark.slow
def test_interrupted_tuned_study_resumes_retrains_seeds_and_reports(repo_root, python, tiny_dataset, tmp_path):
    """compare.py --tune-trials from the CLI: Ctrl-C after AutoTask's first finished trial, then the same command
    again: the finished trial is kept, the search completes in its Optuna study, LightGBM is searched with the same
    budget, each winner is retrained (one seed here: tests/unit/test_tuning.py covers K seeds), and the report shows
    the budget and the winners. Every AutoTask
    trial keeps d·e1 = e2 with a learning rate per facet."""
    study, out = tmp_path / "study.json", tmp_path / "tuned"
    study.write_text(json.dumps({"runs": [{"name": "autotask", "model": "autotask"},
                                          {"name": "lightgbm", "model": "lightgbm"}]}))
    command = [python, "runners/compare.py", "--data", str(tiny_dataset), "--study", str(study), "--tune-trials", "2",
               "--seeds", "1", "--concurrent", "2", "--epochs-pretrain", "1", "--epochs-finetune", "1",
               "--scheduler", "none", "--out", str(out)]
    first = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    search = out / "autotask" / "search"
    deadline = time.time() + 240
    while time.time() < deadline and not (_finished_trials(search) and _started_trials(search) >= 2):
        time.sleep(0.2)  # interrupt once a trial has finished and the next one has reported (trials take seconds)
    finished = _finished_trials(search)
    assert finished, "no trial finished before the interruption"
    first.send_signal(signal.SIGINT)  # Ctrl-C
    assert first.wait(timeout=90) == 130  # Ctrl-C ends the study (Tune alone would finish the search and go on)
    resumed = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    frame = pd.read_parquet(search / "trials.parquet")
    assert len(frame) == 2 and (frame["status"] == "TERMINATED").all() and set(finished) <= set(frame["trial_id"])
    d = load_manifest(tiny_dataset).d
    assert (frame["d"] == d).all() and (frame["e2"] == d * frame["e1"]).all()
    sampled = frame[frame["trial_number"] > 1]  # trial 1 is the default config (one learning rate for both facets)
    assert (sampled["lr_facet1"] != sampled["lr_facet2"]).all() and frame["best_valid_roc_auc"].between(0.5, 1).all()
    optuna_study = optuna.load_study(study_name="autotask", storage=f"sqlite:///{search / 'optuna.db'}")
    completed = [t for t in optuna_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert {t.params["e1"] for t in completed} >= set(frame["e1"])
    assert optuna_study.trials[0].params == load_space(repo_root / "search_spaces" / "autotask.py").defaults
    tuning = json.loads((out / "study.json").read_text())["tuning"]
    assert tuning["budget"] == "each model: 2 trials, 1 seed" and len(pd.read_parquet(
        out / "lightgbm" / "search" / "trials.parquet")) == 2
    for name in ("autotask", "lightgbm"):
        winner = tuning["models"][name]["best_config"]
        assert "e2" not in winner["model_config"] and len(tuning["models"][name]["curve"]) == 2
        for seed in (0,):
            run = RunConfig.read(out / f"{name}-seed{seed}" / "config.json")
            assert run.seed == seed and run.model_config == winner["model_config"]
            assert (out / f"{name}-seed{seed}" / "metrics.parquet").exists()
    report = subprocess.run([python, "runners/report.py", "--study", str(out), "--baseline", "lightgbm", "--out",
                             str(tmp_path / "report"), "--bootstrap", "50"], cwd=repo_root, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "each model: 2 trials, 1 seed" in text and "Best config of autotask" in text
    assert (tmp_path / "report" / "figures" / "best_so_far.png").exists()


def _started_trials(search) -> int:
    """Trials with at least one report."""
    results = (search / "ray" / "search").glob("run_trial_*/result.json")
    return sum(bool(result.read_text().strip()) for result in results)


def _finished_trials(search) -> list[str]:
    """Trials whose every epoch was reported (2 epochs each here)."""
    done = []
    for result in (search / "ray" / "search").glob("run_trial_*/result.json"):
        if len(result.read_text().splitlines()) >= 2:
            done.append(result.parent.name.split("_")[2])
    return done


def test_sampled_epochs_are_capped_by_the_base_run(tiny_dataset):
    base = RunConfig(data=str(tiny_dataset), training=TrainingConfig(epochs_pretrain=1, epochs_finetune=2))
    longer = trial_run_config(base, {"epochs_finetune": 6, "lr_facet1": 1e-3}, "autotask")
    shorter = trial_run_config(base, {"epochs_finetune": 1}, "autotask")
    assert (longer.training.epochs_finetune, shorter.training.epochs_finetune) == (2, 1)
    assert longer.training.lr_facet1 == 1e-3 and longer.training.epochs_pretrain == 1


@pytest.mark.ray
def test_resumed_search_rebuilds_its_asha_rungs_from_the_recorded_reports(ray_session, tmp_path):
    """--resume starts a new rung registry; replaying the trials' result.json files gives it every result recorded
    before the interruption, so a resumed trial is judged against them (here: cut below the rung's median)."""
    import ray

    from autotask.location import Location
    from autotask.tuning.asha import NAMESPACE, start_registry
    from autotask.tuning.tuner import replay_rungs

    for trial, values in {"aaaa1111": [0.80, 0.82], "bbbb2222": [0.70, 0.71], "cccc3333": [0.75]}.items():
        folder = tmp_path / "search" / f"run_trial_{trial}_1_e1=8"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text("".join(json.dumps({"valid_roc_auc": v}) + "\n" for v in values))
    start_registry("autotask-asha-replay-test", mode="max", grace_period=1, reduction_factor=2, max_t=8)
    assert replay_rungs("autotask-asha-replay-test", Location.of(tmp_path / "search"), "valid_roc_auc") == 5
    registry = ray.get_actor("autotask-asha-replay-test", namespace=NAMESPACE)
    assert not ray.get(registry.keep_going.remote("dddd4444", 1, 0.72))  # below the recorded rung-1 cutoff
    assert ray.get(registry.keep_going.remote("eeee5555", 1, 0.90))


def test_trials_in_their_own_process_share_in_memory_splits(ray_session, repo_root, tiny_dataset):
    """A search whose trials train in their own process shares in-memory splits (training/feeds.py), unless the base
    run asks for Ray Data's feed; a search of worker groups shares Ray datasets."""
    import ray.data

    from autotask.training.feeds import MemorySplit
    from autotask.tuning.tuner import shared_datasets

    manifest = load_manifest(tiny_dataset)
    space = load_space(repo_root / "search_spaces" / "autotask.py")
    counts = {"pretrain": 3_000, "train": 1_000, "valid": 500}
    base = RunConfig(data=str(tiny_dataset), model="autotask", training=TrainingConfig(workers=1))
    assert isinstance(shared_datasets(base, space, manifest, counts, in_own_process=True)["train"], MemorySplit)
    streamed = RunConfig(data=str(tiny_dataset), model="autotask", training=TrainingConfig(workers=1, feed="ray-data"))
    assert isinstance(shared_datasets(streamed, space, manifest, counts, True)["train"], ray.data.Dataset)
    assert isinstance(shared_datasets(base, space, manifest, counts, in_own_process=False)["train"], ray.data.Dataset)
