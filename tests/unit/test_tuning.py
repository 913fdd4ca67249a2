"""Search bookkeeping without Ray: the best trial by mode, flag checks, Optuna warm starts from an RDB study."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from autotask.preflight import InputError
from autotask.tuning.results import best_trial
from autotask.tuning.search import SearchConfig, warm_start


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
