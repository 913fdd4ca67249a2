"""Running a search on Ray Tune: a new Tuner or one restored from an interrupted search (finished trials kept, the
ASHA rungs replayed), every trial a run_trial call with the shared datasets; where Tune keeps the experiment."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import ray
from ray import tune

from autotask.config import RunConfig
from autotask.data.manifest import Manifest
from autotask.location import Location
from autotask.models.language import reads_language
from autotask.models.registry import get_kind
from autotask.runtime.local import run_datasets
from autotask.runtime.ray_data import MATERIALIZE_BELOW_ROWS, training_datasets
from autotask.tuning.asha import NAMESPACE, registry_name, start_registry
from autotask.tuning.optuna_store import make_searcher
from autotask.tuning.results import EXPERIMENT, TRIALS_NAME, trial_id_from_folder
from autotask.tuning.search import SearchConfig
from autotask.tuning.space import SearchSpace
from autotask.tuning.trial import TrialSpec, run_trial, trains_in_process

TRIAL_CPUS = 0.25  # the trial's own process; its Train workers ask for theirs


def default_concurrency(run: RunConfig) -> int:
    """Trials that fit side by side: each needs its own CPU share plus its workers', with room left for Ray Data."""
    cpus = ray.cluster_resources().get("CPU", 1)
    per_trial = TRIAL_CPUS + run.training.workers * run.training.cpus_per_worker + 0.5
    return max(1, int(cpus // per_trial))


@dataclass(frozen=True)
class SearchJob:
    """One search's inputs: the base run, the space, the data's manifest and rows per split, the settings, OUT and
    --storage (where Tune keeps the experiment and the trials' checkpoints; default OUT/ray)."""

    base: RunConfig
    space: SearchSpace
    manifest: Manifest | None  # None until the data is validated
    config: SearchConfig
    out: Path
    row_counts: dict
    storage: str | None = None

    @property
    def location(self) -> Location:
        return search_storage(self.out, self.storage)


def make_tuner(job: SearchJob, callbacks=None) -> tune.Tuner:
    """A new search; every trial is a TorchTrainer run whose storage lives under STORAGE/trials (default OUT/ray)."""
    concurrency = job.config.concurrent or default_concurrency(job.base)
    return tune.Tuner(
        trainable(job, stopper=start_stopper(job.base, job.config, job.out)),
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(job.space, job.manifest, job.config, job.out, concurrency),
            num_samples=job.config.trials,
            max_concurrent_trials=concurrency,
            # a trial process whose trial ended takes the next trial: no process start, imports or model build
            reuse_actors=job.config.reuse_actors and trials_in_own_process(job),
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT,
            storage_path=job.location.path,
            storage_filesystem=job.location.filesystem,
            verbose=0,
            callbacks=callbacks,
            # a trial whose own process dies (its node lost) restarts from its last checkpoint
            failure_config=tune.FailureConfig(max_failures=job.base.training.max_failures),
        ),
    )


def restore_tuner(job: SearchJob) -> tune.Tuner:
    """Continue an interrupted search: finished trials and the searcher's state are kept."""
    stopper = start_stopper(job.base, job.config, job.out)
    if stopper:
        replay_rungs(stopper, job.location / EXPERIMENT, job.config.metric)
    return tune.Tuner.restore(
        (job.location / EXPERIMENT).path,
        trainable=trainable(job, stopper),
        resume_unfinished=True,
        resume_errored=True,
        storage_filesystem=job.location.filesystem,
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


def shared_datasets(base: RunConfig, space: SearchSpace, manifest: Manifest, row_counts: dict,
                    in_own_process: bool = False) -> dict | None:
    """A small dataset's materialised training splits, built once by the driver for every trial of a torch search
    (each trial would otherwise build and materialise its own Ray Data pipelines); None for large data or LightGBM."""
    if not get_kind(space.model).is_torch or sum(row_counts.values()) >= MATERIALIZE_BELOW_ROWS:
        return None
    if in_own_process:  # in memory (training/feeds.py) unless the base run asks for Ray Data's feed
        return run_datasets(dataclasses.replace(base, model=space.model), manifest, row_counts)
    return training_datasets(base.data, manifest, row_counts, reads_language(base.model_config),
                             base.training.pool_in_finetune)


def trainable(job: SearchJob, stopper: str | None):
    """run_trial bound to the search (its resources: the trial's own process, plus one worker's CPUs when it trains
    in that process); the shared datasets go through the object store once."""
    base, space = job.base, job.space
    trial = TrialSpec(base=base.to_dict(), manifest=job.manifest.to_dict(), model=space.model,
                      row_counts=job.row_counts, storage=(job.location / "trials").uri, stopper=stopper,
                      auxiliary=space.auxiliary, in_process=job.config.in_process, metric=job.config.metric)
    function = functools.partial(run_trial, trial=trial)
    own = trials_in_own_process(job)
    shared = shared_datasets(base, space, job.manifest, job.row_counts, own)
    if shared is not None:  # through the object store, once, not pickled into every trial
        function = tune.with_parameters(function, datasets=shared, datasets_language=reads_language(base.model_config))
        function.__name__ = TRIALS_NAME  # trial folders keep their name: run_trial_<id>_<n>_<params>
    return tune.with_resources(function, {"CPU": TRIAL_CPUS + (base.training.cpus_per_worker if own else 0)})


def trials_in_own_process(job: SearchJob) -> bool:
    """Whether the search's trials train in the trial's own process (1 worker, CPU) rather than a worker group."""
    return job.config.in_process and trains_in_process(dataclasses.replace(job.base, model=job.space.model))
