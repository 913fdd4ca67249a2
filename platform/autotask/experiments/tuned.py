"""Tuned studies: every model of a study searched with the same trial budget (Ray Tune + Optuna, its kind's own
space), then its best config retrained over seeds, then reported like any study.

Layout under OUT: NAME/search/ (trials.parquet, best_config.json, optuna.db, Tune's experiment) and
NAME-seed<k>/ run directories exactly as runners/train.py writes them; study.json records the budget, the seeds,
each space (path and SHA-256) and each model's winning config. Re-running resumes: a finished search is kept, an
interrupted one continues from its finished trials, finished retrained runs are skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pandas as pd

from autotask.config import RunConfig, TrainingConfig
from autotask.experiments.study import StudyRun
from autotask.models.registry import get_kind
from autotask.preflight import InputError
from autotask.runtime.driver import Shell
from autotask.tuning.results import best_trial
from autotask.tuning.search import SearchConfig
from autotask.tuning.study import run_search
from autotask.tuning.tuner import can_resume

REPO_ROOT = Path(__file__).resolve().parents[3]
SEARCH_FOLDER = "search"


def default_space(model: str) -> Path:
    """The kind's own search space (its registry entry), under the repository root."""
    kind = get_kind(model)
    if not kind.search_space:
        raise InputError(f"model kind {model!r} has no search space to tune with")
    return REPO_ROOT / kind.search_space


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def search_is_finished(folder: Path, trials: int) -> bool:
    """A search whose results were written with the asked number of trials."""
    results = folder / "trials.parquet"
    return (folder / "best_config.json").exists() and results.exists() and len(pd.read_parquet(results)) >= trials


def tune_entry(entry: StudyRun, data: str, training: dict, search: SearchConfig, out: Path,
               address: str | None = None, console=None) -> dict:
    """Search one study entry (or keep its finished search); returns its record for study.json."""
    space = default_space(entry.model)
    folder = out / entry.name / SEARCH_FOLDER
    base = RunConfig(data=data, model=entry.model, run_name=entry.name, variant=entry.variant or entry.name,
                     model_config=dict(entry.model_config),
                     training=TrainingConfig(**{**training, **entry.training}))
    if not search_is_finished(folder, search.trials):
        run_search(base, space, dataclasses.replace(search, study_name=search.study_name or entry.name), folder,
                   resume=can_resume(folder), shell=Shell(address=address, console=console))
    frame = pd.read_parquet(folder / "trials.parquet")
    best = best_trial(frame, search.metric, search.mode)
    ordered = frame.sort_values("trial_number", kind="stable") if "trial_number" in frame else frame
    winner = RunConfig.read(folder / "best_config.json")
    return {"model": entry.model, "space": str(space.relative_to(REPO_ROOT)), "space_sha256": file_sha256(space),
            "trials": int(len(frame)), f"best_{search.metric}": float(best[f"best_{search.metric}"]),
            "best_trial": str(best["trial_id"]), "best_config": winner.to_dict(),
            "curve": [float(v) for v in ordered[f"best_{search.metric}"]]}  # trial order: the best-so-far curve


def seed_configs(records: dict[str, dict], entries: list[StudyRun], seeds: int) -> dict[str, RunConfig]:
    """NAME-seed<k> -> the entry's winning config at seed k (name and variant kept from the study)."""
    if seeds < 1:
        raise InputError(f"--seeds {seeds}: at least 1 seed")
    configs = {}
    for entry in entries:
        winner = RunConfig.from_dict(records[entry.name]["best_config"])
        for seed in range(seeds):
            configs[f"{entry.name}-seed{seed}"] = dataclasses.replace(
                winner, seed=seed, run_name=entry.name, variant=entry.variant or entry.name)
    return configs


def tuning_record(records: dict[str, dict], search: SearchConfig, seeds: int) -> dict:
    """study.json's `tuning` entry: the budget line, the search settings and each model's winner."""
    budget = f"each model: {search.trials} trial{'s' * (search.trials != 1)}, {seeds} seed{'s' * (seeds != 1)}"
    return {"budget": budget, "trials": search.trials, "seeds": seeds,
            "metric": search.metric, "mode": search.mode, "sampler": search.sampler, "scheduler": search.scheduler,
            "models": records}


def read_tuning(out: str | Path) -> dict | None:
    """The `tuning` entry of OUT/study.json, or None for an untuned study."""
    path = Path(out) / "study.json"
    return json.loads(path.read_text()).get("tuning") if path.exists() else None
