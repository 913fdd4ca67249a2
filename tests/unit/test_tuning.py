"""Search bookkeeping without Ray: the best trial by mode, flag checks, Optuna warm starts from an RDB study."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from autotask.preflight import InputError
from autotask.tuning.optuna_store import warm_start
from autotask.tuning.results import best_trial
from autotask.tuning.search import SearchConfig


def test_best_trial_follows_the_mode_and_never_picks_nan():
    frame = pd.DataFrame({"trial_id": ["a", "b", "c"], "best_train_loss": [0.4, float("nan"), 0.2]})
    assert best_trial(frame, "train_loss", "min")["trial_id"] == "c"
    assert best_trial(frame, "train_loss", "max")["trial_id"] == "a"


def test_mode_and_metric_are_checked():
    with pytest.raises(InputError, match="--mode lowest"):
        SearchConfig(mode="lowest")
    assert SearchConfig(metric="train_loss", mode="min").metrics_and_modes() == ("train_loss", "min")


def test_warm_start_copies_an_earlier_studys_finished_trials_once(tmp_path):
    earlier_url = f"sqlite:///{tmp_path / 'earlier.db'}"
    earlier = optuna.create_study(study_name="earlier", storage=earlier_url, direction="maximize")
    earlier.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=3)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'new.db'}")
    assert warm_start(storage, "new", "max", f"{earlier_url}#earlier") == 3
    assert warm_start(storage, "new", "max", f"{earlier_url}#earlier") == 0  # a resumed search is not re-seeded
    study = optuna.load_study(study_name="new", storage=storage)
    assert sorted(t.params["lr"] for t in study.trials) == sorted(t.params["lr"] for t in earlier.trials)
    with pytest.raises(InputError, match="--warm-start"):
        warm_start(storage, "other", "max", f"{earlier_url}#missing")


def test_each_winner_is_retrained_once_per_seed_under_its_study_name_and_variant():
    from autotask.config import RunConfig
    from autotask.experiments.study import StudyRun
    from autotask.experiments.tuned import seed_configs

    winner = RunConfig(data="d", model="autotask", model_config={"e1": 4}, seed=7).to_dict()
    entries = [StudyRun("at", "autotask", "AutoTask, tuned"), StudyRun("gbm", "lightgbm")]
    records = {"at": {"best_config": winner}, "gbm": {"best_config": {**winner, "model": "lightgbm"}}}
    configs = seed_configs(records, entries, seeds=3)
    assert sorted(configs) == [f"{name}-seed{k}" for name in ("at", "gbm") for k in range(3)]
    assert [configs[f"at-seed{k}"].seed for k in range(3)] == [0, 1, 2]
    assert {c.model_config["e1"] for c in configs.values()} == {4} and configs["gbm-seed2"].variant == "gbm"
    assert configs["at-seed1"].variant == "AutoTask, tuned" and configs["at-seed1"].run_name == "at"
    with pytest.raises(ValueError, match="--seeds 0"):
        seed_configs(records, entries, seeds=0)
