"""A search's Optuna study: kept in an RDB storage (default a SQLite file OUT/optuna.db; any SQLAlchemy URL, e.g.
PostgreSQL for a cluster), so `optuna-dashboard` and `optuna.load_study` open it, and a new search can be
warm-started from an earlier study's finished trials; the sampler and the OptunaSearch Tune asks for trials.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from ray.tune.search.optuna import OptunaSearch

from autotask.data.manifest import Manifest
from autotask.preflight import InputError
from autotask.tuning.search import SearchConfig
from autotask.tuning.space import SearchSpace

OPTUNA_FILE = "optuna.db"


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


def make_sampler(config: SearchConfig, concurrency: int = 1) -> optuna.samplers.BaseSampler:
    """The config's sampler (one of SAMPLERS), seeded; TPE with constant_liar when trials run concurrently, so
    parallel trials do not all sample the same region."""
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=config.seed)
    return optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=min(5, max(1, config.trials // 3)),
                                      constant_liar=concurrency > 1)


def make_searcher(space: SearchSpace, manifest: Manifest, config: SearchConfig, out: Path, concurrency: int = 1
                  ) -> OptunaSearch:
    """OptunaSearch on the search's RDB study (warm-started when asked) with the config's sampler."""
    metric, mode = config.metrics_and_modes()
    sampler = make_sampler(config, concurrency)
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
