"""Ray Tune wiring: OptunaSearch (TPE or random, seeded) over a define-by-run space, ASHA early stopping.

Every search keeps its Optuna study in an RDB storage (default a SQLite file OUT/optuna.db; any SQLAlchemy URL,
e.g. PostgreSQL for a cluster), so `optuna-dashboard` and `optuna.load_study` open it, and a new search can be
warm-started from an earlier study's finished trials.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from autotask import interrupts
from autotask.data.manifest import Manifest
from autotask.location import Location
from autotask.models.language import reads_language
from autotask.models.registry import get_kind
from autotask.preflight import InputError
from autotask.training.config import RunConfig
from autotask.training.ray_data import MATERIALIZE_BELOW_ROWS, training_datasets
from autotask.tuning.asha import NAMESPACE, registry_name, start_registry
from autotask.tuning.results import EXPERIMENT, TRIALS_NAME, trial_id_from_folder
from autotask.tuning.space import SearchSpace
from autotask.tuning.trial import run_trial, trains_in_process

TRIAL_CPUS = 0.25  # the trial's own process; its Train workers ask for theirs
METRICS = ("valid_roc_auc", "best_valid_roc_auc", "train_loss")  # what trials report each epoch (--mode max|min)
OBJECTIVES = ("auc", "params", "latency")
SCHEDULERS = ("asha", "none")
SAMPLERS = ("tpe", "random")
MODES = ("max", "min")
OPTUNA_FILE = "optuna.db"
NO_TUNE_HANDLER = "TUNE_DISABLE_SIGINT_HANDLER"  # set to 1, Tune leaves Ctrl-C to Python


@dataclass
class SearchConfig:
    trials: int = 8
    metric: str = "valid_roc_auc"
    mode: str = "max"
    objectives: list[str] = field(default_factory=lambda: ["auc"])  # "auc" and optionally "params"
    scheduler: str = "asha"  # asha | none
    sampler: str = "tpe"  # tpe | random
    concurrent: int | None = None  # default: what the cluster fits
    seed: int = 0
    optuna_storage: str | None = None  # SQLAlchemy URL; default sqlite:///OUT/optuna.db
    study_name: str | None = None  # the Optuna study's name in that storage; default OUT's folder name
    warm_start: str | None = None  # "URL" or "URL#STUDY": copy that study's finished trials first
    in_process: bool = True  # a 1-worker CPU trial trains in the trial's process (no Train worker group)

    def __post_init__(self):
        """Refuse a search that could not run, before Ray starts (InputError names the flag)."""
        problems = []
        if self.trials < 1:
            problems.append(f"--trials {self.trials}: at least 1 trial")
        if self.concurrent is not None and self.concurrent < 1:
            problems.append(f"--concurrent {self.concurrent}: at least 1 trial at a time (or leave it out)")
        if self.metric not in METRICS:
            problems.append(f"--metric {self.metric}: trials report {', '.join(METRICS)}")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown or not self.objectives or len(set(self.objectives)) < len(self.objectives):
            problems.append(f"--objectives {','.join(self.objectives)}: a comma-separated subset of "
                            f"{', '.join(OBJECTIVES)}, starting with auc, each once")
        elif self.objectives[0] != "auc":
            problems.append(f"--objectives {','.join(self.objectives)}: the first objective is auc")
        elif {"params", "latency"} <= set(self.objectives):
            problems.append("--objectives: params and latency are the same objective here (the parameter count, the "
                            "serving cost a search can measure for free); give one")
        if self.mode not in MODES:
            problems.append(f"--mode {self.mode}: one of {', '.join(MODES)}")
        if self.scheduler not in SCHEDULERS or self.sampler not in SAMPLERS:
            problems.append(f"scheduler/sampler: one of {SCHEDULERS} / {SAMPLERS}")
        if problems:
            raise InputError("; ".join(problems))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def metrics_and_modes(self) -> tuple[list[str] | str, list[str] | str]:
        columns = {"auc": (self.metric, self.mode), "params": ("n_params", "min"), "latency": ("n_params", "min")}
        chosen = [columns[o] for o in self.objectives]
        if not self.multi_objective:
            return chosen[0]
        return [c[0] for c in chosen], [c[1] for c in chosen]


def default_concurrency(run: RunConfig) -> int:
    """Trials that fit side by side: each needs its own CPU share plus its workers', with room left for Ray Data."""
    cpus = ray.cluster_resources().get("CPU", 1)
    per_trial = TRIAL_CPUS + run.training.workers * run.training.cpus_per_worker + 0.5
    return max(1, int(cpus // per_trial))


def optuna_storage_url(out: Path, config: SearchConfig) -> str:
    return config.optuna_storage or f"sqlite:///{(Path(out) / OPTUNA_FILE).resolve()}"


def open_optuna_storage(url: str) -> optuna.storages.RDBStorage:
    """The search's RDB storage (created when new); InputError naming the URL when it cannot be opened."""
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # SQLAlchemy's own errors (bad URL, unreachable server, missing driver, no folder)
        raise InputError(f"--optuna-storage {url}: cannot open this Optuna storage ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0]})") from exc


def optuna_study_name(out: Path, config: SearchConfig) -> str:
    return config.study_name or Path(out).resolve().name


def make_searcher(space: SearchSpace, manifest: Manifest, config: SearchConfig, out: Path, concurrency: int = 1
                  ) -> OptunaSearch:
    """OptunaSearch on the search's RDB study (warm-started when asked); TPE with constant_liar when trials run
    concurrently, so parallel trials do not all sample the same region."""
    metric, mode = config.metrics_and_modes()
    sampler = (
        optuna.samplers.RandomSampler(seed=config.seed)
        if config.sampler == "random"
        else optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=min(5, max(1, config.trials // 3)),
                                        constant_liar=concurrency > 1)
    )
    storage = open_optuna_storage(optuna_storage_url(out, config))
    name = optuna_study_name(out, config)
    if config.warm_start:
        warm_start(storage, name, mode, config.warm_start)
    return OptunaSearch(space=space.bound(manifest.d), metric=metric, mode=mode, sampler=sampler, seed=config.seed,
                        storage=storage, study_name=name,
                        points_to_evaluate=[dict(space.defaults)] if space.defaults else None)


def warm_start(storage, name: str, mode, source: str) -> int:
    """Copy the finished trials of study `source` ("URL" or "URL#STUDY"; one study in URL when no name is given)
    into study `name`, once; returns how many it copied. The sampler then starts from their history."""
    url, _, source_name = source.partition("#")
    try:
        earlier = optuna.load_study(study_name=source_name or None, storage=url)
    except (KeyError, ValueError, ImportError) as exc:
        raise InputError(f"--warm-start {source}: cannot open that Optuna study ({exc})") from exc
    modes = mode if isinstance(mode, list) else [mode]
    study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                directions=["minimize" if m == "min" else "maximize" for m in modes])
    if study.trials:
        return 0  # already warm-started (a resumed search)
    finished = [t for t in earlier.trials if t.state == optuna.trial.TrialState.COMPLETE]
    study.add_trials(finished)
    return len(finished)


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


def fit_or_interrupt(tuner: tune.Tuner):
    """`tuner.fit()`, raising KeyboardInterrupt when Ctrl-C came during it. Tune's own SIGINT handler saves the
    search's state and lets fit() return as if the search had finished (the rest of a study would then run on); it
    puts the previous handler back when it fires and stays installed when it does not, so the handler in place
    afterwards tells which happened. Either way the previous handler is in place again afterwards, also when fit()
    raises.

    The look and the restore are one `signal.signal` call: Python runs a signal's handler between bytecodes, so
    with a separate look (`getsignal`) and restore a Ctrl-C landing between them ran Tune's handler after the look,
    which then said "not fired", and the interrupt was lost (the study ran on and exited 0)."""
    interrupts.raise_if_heard()  # a Ctrl-C swallowed on its way up (autotask/interrupts.py) starts no search
    if threading.current_thread() is not threading.main_thread() or os.environ.get(NO_TUNE_HANDLER) == "1":
        return _finished_or_interrupt(tuner.fit())  # Tune installs no handler: Ctrl-C is Python's KeyboardInterrupt
    previous = signal.getsignal(signal.SIGINT)
    try:
        grid = tuner.fit()
    finally:
        left = signal.signal(signal.SIGINT, previous)  # one call: Tune's handler cannot fire between look and restore
    if left is previous:  # Tune's handler fired and put `previous` back
        raise KeyboardInterrupt
    return _finished_or_interrupt(grid)


def _finished_or_interrupt(grid):
    """The grid of a search whose every trial ended; KeyboardInterrupt when some were stopped unfinished."""
    if grid.num_terminated + grid.num_errors < len(grid):
        raise KeyboardInterrupt
    return grid


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
