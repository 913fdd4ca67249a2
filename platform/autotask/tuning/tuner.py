"""Running a search on Ray Tune: a new Tuner or one restored from an interrupted search (finished trials kept, the
ASHA rungs replayed), every trial a run_trial call with the shared datasets; where Tune keeps the experiment."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

import ray
from ray import tune

from autotask.data.manifest import Manifest
from autotask.location import Location
from autotask.models.language import reads_language
from autotask.models.registry import get_kind
from autotask.runtime.ray_data import MATERIALIZE_BELOW_ROWS, training_datasets
from autotask.training.config import RunConfig
from autotask.tuning.asha import NAMESPACE, registry_name, start_registry
from autotask.tuning.optuna_store import make_searcher
from autotask.tuning.results import EXPERIMENT, TRIALS_NAME, trial_id_from_folder
from autotask.tuning.search import SearchConfig
from autotask.tuning.space import SearchSpace
from autotask.tuning.trial import run_trial, trains_in_process

TRIAL_CPUS = 0.25  # the trial's own process; its Train workers ask for theirs


def default_concurrency(run: RunConfig) -> int:
    """Trials that fit side by side: each needs its own CPU share plus its workers', with room left for Ray Data."""
    cpus = ray.cluster_resources().get("CPU", 1)
    per_trial = TRIAL_CPUS + run.training.workers * run.training.cpus_per_worker + 0.5
    return max(1, int(cpus // per_trial))


def make_tuner(
    base: RunConfig,
    space: SearchSpace,
    manifest: Manifest,
    config: SearchConfig,
    out: Path,
    row_counts: dict,
    callbacks=None,
    storage: str | None = None,
) -> tune.Tuner:
    """A new search; every trial is a TorchTrainer run whose storage lives under STORAGE/trials (default OUT/ray)."""
    storage = search_storage(out, storage)
    concurrency = config.concurrent or default_concurrency(base)
    return tune.Tuner(
        _trainable(base, space, manifest, row_counts, storage, stopper=start_stopper(base, config, out),
                   in_process=config.in_process, metric=config.metric),
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(space, manifest, config, out, concurrency),
            num_samples=config.trials,
            max_concurrent_trials=concurrency,
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT,
            storage_path=storage.path,
            storage_filesystem=storage.filesystem,
            verbose=0,
            callbacks=callbacks,
            # a trial whose own process dies (its node lost) restarts from its last checkpoint
            failure_config=tune.FailureConfig(max_failures=base.training.max_failures),
        ),
    )


def restore_tuner(
    base: RunConfig,
    space: SearchSpace,
    manifest: Manifest,
    config: SearchConfig,
    out: Path,
    row_counts: dict,
    storage: str | None = None,
) -> tune.Tuner:
    """Continue an interrupted search: finished trials and the searcher's state are kept."""
    storage = search_storage(out, storage)
    stopper = start_stopper(base, config, out)
    if stopper:
        replay_rungs(stopper, storage / EXPERIMENT, config.metric)
    return tune.Tuner.restore(
        (storage / EXPERIMENT).path,
        trainable=_trainable(base, space, manifest, row_counts, storage, stopper=stopper,
                             in_process=config.in_process, metric=config.metric),
        resume_unfinished=True,
        resume_errored=True,
        storage_filesystem=storage.filesystem,
    )


def can_resume(out: Path, storage: str | None = None) -> bool:
    experiment = search_storage(out, storage) / EXPERIMENT
    return tune.Tuner.can_restore(experiment.path, storage_filesystem=experiment.filesystem)


def search_storage(out: Path, storage: str | None) -> Location:
    """Where Tune keeps the experiment and the trials' checkpoints: a shared path or URI, else OUT/ray."""
    return Location.of(storage or Path(out) / "ray")


def start_stopper(base: RunConfig, config: SearchConfig, out: Path) -> str | None:
    """Start the ASHA rung registry trials consult after each epoch (tuning/asha.py explains why not Tune's)."""
    if config.scheduler != "asha" or config.multi_objective:
        return None
    metric, mode = config.metrics_and_modes()
    epochs = base.training.epochs_pretrain + base.training.epochs_finetune
    name = registry_name(hashlib.sha1(str(Path(out).resolve()).encode()).hexdigest()[:12])
    start_registry(name, mode=mode, grace_period=1, reduction_factor=2, max_t=max(epochs, 2))
    return name


def replay_rungs(stopper: str, experiment: Location, metric: str) -> int:
    """Rebuild a resumed search's ASHA rungs from its trials' recorded reports (Tune's result.json per trial), so
    the resumed trials are judged against every result recorded before the interruption; returns the reports
    replayed."""
    registry = ray.get_actor(stopper, namespace=NAMESPACE)
    replayed = 0
    for result in experiment.files("result.json"):
        trial_id = trial_id_from_folder(result.parent.name)
        reports = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        for iteration, report in enumerate(reports, start=1):
            if metric in report:
                ray.get(registry.keep_going.remote(trial_id, iteration, float(report[metric])))
                replayed += 1
    return replayed


def shared_datasets(base: RunConfig, space: SearchSpace, manifest: Manifest, row_counts: dict) -> dict | None:
    """A small dataset's materialised training splits, built once by the driver for every trial of a torch search
    (each trial would otherwise build and materialise its own Ray Data pipelines); None for large data or LightGBM."""
    if not get_kind(space.model).is_torch or sum(row_counts.values()) >= MATERIALIZE_BELOW_ROWS:
        return None
    return training_datasets(base.data, manifest, row_counts, reads_language(base.model_config),
                             base.training.pool_in_finetune)


def _trainable(
    base: RunConfig, space: SearchSpace, manifest: Manifest, row_counts: dict, storage: Location, stopper: str | None,
    in_process: bool = True, metric: str = "valid_roc_auc",
):
    function = functools.partial(
        run_trial,
        base=base.to_dict(),
        manifest=manifest.to_dict(),
        model=space.model,
        row_counts=row_counts,
        storage=(storage / "trials").uri,
        stopper=stopper,
        metric=metric,
        auxiliary=space.auxiliary,
        in_process=in_process,
    )
    shared = shared_datasets(base, space, manifest, row_counts)
    if shared is not None:  # through the object store, once, not pickled into every trial
        function = tune.with_parameters(function, datasets=shared, datasets_language=reads_language(base.model_config))
        function.__name__ = TRIALS_NAME  # trial folders keep their name: run_trial_<id>_<n>_<params>
    own = in_process and trains_in_process(dataclasses.replace(base, model=space.model))
    return tune.with_resources(function, {"CPU": TRIAL_CPUS + (base.training.cpus_per_worker if own else 0)})
