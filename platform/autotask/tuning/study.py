"""A whole search: validate data and space before Ray, run or resume, write the results as data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rich.console import Console

from autotask.config import RunConfig
from autotask.data.validate import validate_dataset
from autotask.models.registry import get_kind
from autotask.preflight import InputError
from autotask.runtime.driver import Shell, drive, run_resources
from autotask.runtime.run import train_run
from autotask.storage import atomic_write_parquet, atomic_write_text
from autotask.tuning.interruption import fit_or_interrupt
from autotask.tuning.optuna_store import open_optuna_storage, optuna_storage_url, optuna_study_name
from autotask.tuning.progress import LiveTrialTable
from autotask.tuning.results import best_trial, pareto_front, trials_frame
from autotask.tuning.search import SearchConfig
from autotask.tuning.space import check_space, load_space
from autotask.tuning.trial import trial_run_config
from autotask.tuning.tuner import TRIAL_CPUS, SearchJob, can_resume, make_tuner, restore_tuner


def run_search(
    base: RunConfig,
    space_path: str | Path,
    config: SearchConfig,
    out: str | Path,
    resume: bool = False,
    retrain_best: bool = False,
    shell: Shell | None = None,
):
    """Returns the trials frame; writes trials.parquet, best_config.json (and pareto.parquet, best/).

    `shell`: where it runs: `address` (--address), `storage` (a shared path or URI for Tune's experiment and the
    trials' checkpoints, default OUT/ray; the finished OUT is copied to STORAGE/results as well) and the `console`;
    its `needs` are a trial's, filled in here. The driver sequence is runtime/driver.py's.
    """
    out, shell = Path(out), shell or Shell()
    console = shell.console or Console()
    if "://" not in base.data:  # trials run in their own working directories
        base = dataclasses.replace(base, data=str(Path(base.data).resolve()))
    space = load_space(space_path)
    shell = dataclasses.replace(shell, needs=run_resources(base.training, space.model, TRIAL_CPUS), console=console)
    return drive(shell, validate=lambda: _validate(SearchJob(base, space, None, config, out, {}, shell.storage)),
                 prepare=lambda job: _prepare(job, resume), lock=out, publish=out,
                 work=lambda prepared: _search(*prepared, space_path, retrain_best, shell.address, console))


def _validate(job: SearchJob) -> SearchJob:
    """The data and the space, before any trial starts (no Ray, nothing written): the job with its data's manifest
    and rows per split."""
    report = validate_dataset(job.base.data).raise_if_invalid()
    check_space(job.space, report.manifest)
    return dataclasses.replace(job, manifest=report.manifest,
                               row_counts=report.summary.groupby("split")["rows"].sum().to_dict())


def _prepare(job: SearchJob, resume: bool) -> tuple[SearchJob, bool]:
    """Before Ray: --resume needs a search to resume; OUT and a bad --optuna-storage fail now."""
    resuming = resume and can_resume(job.out, job.storage)
    if resume and not resuming:
        raise InputError(f"--resume: {job.location} holds no search to resume")
    job.out.mkdir(parents=True, exist_ok=True)
    open_optuna_storage(optuna_storage_url(job.out, job.config))
    return job, resuming


def _search(job: SearchJob, resuming: bool, space_path, retrain_best: bool, address, console):
    config, out = job.config, job.out
    shown = list(get_kind(job.space.model).shown_params)
    callbacks = [LiveTrialTable(config.metric, shown)] if console.is_terminal else []
    grid = fit_or_interrupt(restore_tuner(job) if resuming else make_tuner(job, callbacks))
    frame = trials_frame(grid, config.metric, job.manifest, config.mode, job.location / "trials")
    atomic_write_parquet(frame, out / "trials.parquet")
    best_row = best_trial(frame, config.metric, config.mode)
    params = {k: v for k, v in grid[int(best_row.name)].config.items()}
    best = trial_run_config(job.base, params, job.space.model, job.space.auxiliary)
    atomic_write_text(out / "best_config.json", best.to_json())
    if config.multi_objective:
        front = pareto_front(frame, {f"best_{config.metric}": config.mode, "n_params": "min"})
        atomic_write_parquet(front, out / "pareto.parquet")
    if retrain_best:
        train_run(best, out / "best", address=address, storage=(job.location / "best").uri)
    optuna_record = {"optuna_storage": optuna_storage_url(out, config), "study_name": optuna_study_name(out, config)}
    (out / "search.json").write_text(json.dumps({"space": str(space_path), **config.__dict__, **optuna_record},
                                                indent=2))
    return frame
