"""Ray Tune wiring: OptunaSearch (TPE or random, seeded) over a define-by-run space, ASHA early stopping."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from autotask.data.manifest import Manifest
from autotask.location import Location
from autotask.preflight import InputError
from autotask.training.config import RunConfig
from autotask.tuning.asha import registry_name, start_registry
from autotask.tuning.space import SearchSpace
from autotask.tuning.trial import run_trial

EXPERIMENT = "search"
TRIAL_CPUS = 0.25  # the trial's own process; its Train workers ask for theirs
METRICS = ("valid_roc_auc", "best_valid_roc_auc")  # what trials report each epoch that a search can maximise
OBJECTIVES = ("auc", "params", "latency")
SCHEDULERS = ("asha", "none")
SAMPLERS = ("tpe", "random")


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


def make_searcher(space: SearchSpace, manifest: Manifest, config: SearchConfig) -> OptunaSearch:
    metric, mode = config.metrics_and_modes()
    sampler = (
        optuna.samplers.RandomSampler(seed=config.seed)
        if config.sampler == "random"
        else optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=min(5, max(1, config.trials // 3)))
    )
    return OptunaSearch(space=space.bound(manifest.d), metric=metric, mode=mode, sampler=sampler, seed=config.seed)


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
    return tune.Tuner(
        _trainable(base, space, manifest, row_counts, storage, stopper=start_stopper(base, config, out)),
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(space, manifest, config),
            num_samples=config.trials,
            max_concurrent_trials=config.concurrent or default_concurrency(base),
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT,
            storage_path=storage.path,
            storage_filesystem=storage.filesystem,
            verbose=0,
            callbacks=callbacks,
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
    return tune.Tuner.restore(
        (storage / EXPERIMENT).path,
        trainable=_trainable(base, space, manifest, row_counts, storage, stopper=start_stopper(base, config, out)),
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


def _trainable(
    base: RunConfig, space: SearchSpace, manifest: Manifest, row_counts: dict, storage: Location, stopper: str | None
):
    function = functools.partial(
        run_trial,
        base=base.to_dict(),
        manifest=manifest.to_dict(),
        model=space.model,
        row_counts=row_counts,
        storage=(storage / "trials").uri,
        stopper=stopper,
        auxiliary=space.auxiliary,
    )
    return tune.with_resources(function, {"CPU": TRIAL_CPUS})
