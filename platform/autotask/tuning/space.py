"""Search spaces: plain Python files with a define-by-run Optuna function, loaded by path and checked early.

A space file defines `space(trial, d) -> dict | None`: it samples with `trial.suggest_*` and returns derived
constants (e.g. `{"e2": d * e1}`). Sampled and returned names are run-config fields: training fields
(`lr_facet1`, `epochs_finetune`, ...) or model fields (`e1`, `block_size`, ...). It may also set
`MODEL = KIND` (any kind of the model registry, default "autotask"; a LightGBM trial fits in the trial's own
process), `AUXILIARY = {"width"}`: sampled names that only serve to derive returned constants and are not
config fields, and `DEFAULTS = {name: value}`: the kind's default config in the space's names, enqueued as every
search's first trial.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import cloudpickle
import optuna

from autotask.config import TrainingConfig
from autotask.data.manifest import Manifest
from autotask.models.registry import get_kind, model_config

TRAINING_FIELDS = {f.name for f in fields(TrainingConfig)}
DERIVED = {"e2"}  # returned as constants, checked, never passed to a config
CHECK_SAMPLES = 64


class SearchSpaceError(ValueError):
    """A space that can produce invalid configs, found before any trial starts."""


@dataclass
class SearchSpace:
    path: Path
    model: str
    function: object  # space(trial, d)
    auxiliary: frozenset = frozenset()
    defaults: dict | None = None  # the first trial's parameters

    def bound(self, d: int):
        """The picklable define-by-run function OptunaSearch calls."""
        return functools.partial(self.function, d=d)


def load_space(path: str | Path) -> SearchSpace:
    path = Path(path)
    if not path.exists():
        raise SearchSpaceError(f"{path}: no such search-space file")
    name = f"autotask_space_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file: a syntax or name error must name the file and line, not traceback
        raise SearchSpaceError(f"{path}: cannot load this search space ({_where(exc, path)})") from exc
    cloudpickle.register_pickle_by_value(module)  # trials and resumed searches unpickle it without the file
    if not callable(getattr(module, "space", None)):
        raise SearchSpaceError(f"{path}: defines no function space(trial, d)")
    model = getattr(module, "MODEL", "autotask")
    try:
        get_kind(model)
    except ValueError as exc:
        raise SearchSpaceError(f"{path}: MODEL: {exc}") from exc
    return SearchSpace(path=path, model=model, function=module.space,
                       auxiliary=frozenset(getattr(module, "AUXILIARY", ())),
                       defaults=getattr(module, "DEFAULTS", None))


def _where(exc: Exception, path: Path) -> str:
    """'line 3: NameError: name 'x' is not defined' for an error raised by the user's space file."""
    line = getattr(exc, "lineno", None)
    trace = exc.__traceback__
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename) == path.resolve() or trace.tb_frame.f_code.co_filename == str(path):
            line = trace.tb_lineno
        trace = trace.tb_next
    return (f"line {line}: " if line else "") + f"{type(exc).__name__}: {exc}"


def recipe_defaults(learning_rates: tuple[str, ...] = ("lr_head",)) -> dict:
    """`suggest_recipe`'s names at the platform's defaults, for a space's DEFAULTS: learning rates 2e-3, weight
    decay at its floor (the default being 0), epochs at the range's top so the base run's caps apply."""
    return {**dict.fromkeys(learning_rates, 2e-3), "weight_decay": 1e-6, "epochs_pretrain": 30, "epochs_finetune": 45}


def suggest_recipe(trial, learning_rates: tuple[str, ...] = ("lr_head",)) -> None:
    """The training recipe every space samples alike, so models compete at equal terms: its learning rates (log
    1e-4..5e-3), weight decay, and epoch counts (capped by the base run's --epochs-pretrain/--epochs-finetune)."""
    for name in learning_rates:
        trial.suggest_float(name, 1e-4, 5e-3, log=True)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    trial.suggest_int("epochs_pretrain", 5, 30)
    trial.suggest_int("epochs_finetune", 5, 45)


def split_params(params: dict, auxiliary=frozenset()) -> tuple[dict, dict, dict]:
    """(training fields, model fields, derived constants) of one trial's parameters."""
    params = {k: v for k, v in params.items() if k not in auxiliary}
    training = {k: v for k, v in params.items() if k in TRAINING_FIELDS}
    derived = {k: v for k, v in params.items() if k in DERIVED}
    model = {k: v for k, v in params.items() if k not in TRAINING_FIELDS and k not in DERIVED}
    return training, model, derived


def check_params(params: dict, space: SearchSpace, manifest: Manifest) -> None:
    """Raise SearchSpaceError when one sampled config cannot build a model or fails its kind's own checks (AutoTask:
    d·e1 = e2)."""
    training, model, derived = split_params(params, space.auxiliary)
    kind = get_kind(space.model)
    try:
        typed = model_config(space.model, model, manifest) if kind.is_torch else dict(model)
        TrainingConfig(**training)
    except (TypeError, ValueError) as exc:
        raise SearchSpaceError(f"{space.path}: sampled config {params} is invalid: {exc}") from exc
    problems = kind.check_params(typed, derived, manifest.d) if kind.check_params else []
    if problems:
        raise SearchSpaceError(f"{space.path}: sampled config {params} " + "; ".join(problems))


def check_space(space: SearchSpace, manifest: Manifest, samples: int = CHECK_SAMPLES, seed: int = 0) -> None:
    """Sample the space many times with a random sampler (no training) and check every config."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # before the throwaway study, which would log its creation
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    if space.defaults:  # the first sample is the space's DEFAULTS: checked like any other
        study.enqueue_trial(space.defaults)
    for _ in range(samples):
        trial = study.ask()
        try:
            constants = space.function(trial, d=manifest.d) or {}
        except Exception as exc:  # the user's space function failed on a sample
            raise SearchSpaceError(f"{space.path}: space(trial, d={manifest.d}) failed "
                                   f"({_where(exc, space.path)})") from exc
        if not isinstance(constants, dict):
            raise SearchSpaceError(f"{space.path}: space(trial, d) must return a dict or None, "
                                   f"not {type(constants).__name__}")
        check_params({**trial.params, **constants}, space, manifest)
        study.tell(trial, 0.0)
