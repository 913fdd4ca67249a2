"""A LightGBM run's parameters checked by LightGBM's own rules before Ray starts: each is handed, alone, to a
booster built on a 20-row dataset (milliseconds), so LightGBM's checks (`num_leaves > 1`, types, objective names)
refuse it here rather than in a Ray task minutes later; the peer's own arguments (num_boost_round,
early_stopping_rounds) by the rules lgb.train and lgb.early_stopping apply."""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys

import numpy as np

from autotask.models.lightgbm_peer import LANGUAGE_FIELDS, check_search_params
from autotask.preflight import InputError

QUIET = {"verbosity": -1}
ROUNDS = ("num_boost_round", "early_stopping_rounds")


@contextlib.contextmanager
def _native_stderr_quiet():
    """LightGBM's C++ writes '[LightGBM] [Fatal] ...' to file descriptor 2 before raising: keep it off the console
    (the message comes back in the exception)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _booster_problem(name: str, value) -> str | None:
    """LightGBM's complaint about one parameter (None: accepted). Its fatal log line is kept off the console."""
    import lightgbm as lgb

    rows = np.arange(40, dtype=np.float64).reshape(20, 2)
    train = lgb.Dataset(rows, label=np.arange(20) % 2, params=dict(QUIET))
    try:
        with contextlib.redirect_stdout(io.StringIO()), _native_stderr_quiet():
            lgb.Booster(params={**QUIET, name: value}, train_set=train)
    except (lgb.basic.LightGBMError, TypeError, ValueError) as exc:
        return str(exc).split(" at /", 1)[0].strip()  # drop LightGBM's source location
    return None


def _problem(name: str, value) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if name in ROUNDS:  # the peer's own arguments: lgb.train and lgb.early_stopping want whole numbers >= 1
        return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else \
            "must be a whole number >= 1"
    return _booster_problem(name, value)  # the peer hands the rest to LightGBM under the same names


def lightgbm_problems(model_config: dict) -> list[str]:
    """'num_leaves=-3: Check failed: (num_leaves) > (1)' for each parameter LightGBM (or the peer) would refuse."""
    found = []
    for name, value in model_config.items():  # each alone, so that every problem names its parameter
        problems = check_search_params({name: value}, {}, 0)
        if not problems and name not in LANGUAGE_FIELDS:
            problems = [problem] if (problem := _problem(name, value)) else []
        found += [f"{name}={value!r}: {problem}" for problem in problems]
    return found


def check_passed_through(model: str, model_config: dict, where) -> None:
    """Refuse (InputError) a run whose LightGBM parameters LightGBM would refuse; `where(name)` names the flag or file
    a parameter came from, e.g. '--set'. Torch kinds check their own typed configs (models.registry.model_config)."""
    from autotask.models.registry import get_kind

    if get_kind(model).is_torch:
        return
    problems = lightgbm_problems(model_config)
    if problems:
        raise InputError("; ".join(f"{where(problem.split('=', 1)[0])}: LightGBM refuses {problem}"
                                   for problem in problems))
