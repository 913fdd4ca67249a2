"""Request bodies of the online service, checked field by field.

Every problem raises `RequestProblem(status, field, problem)`; the service answers it as a 4xx JSON body
`{"error": {"field": ..., "problem": ...}}`, never a score. Feature values are JSON numbers (not booleans, not
strings), finite in float32; NaN and Infinity literals are malformed JSON here.

Bodies are parsed by orjson (5x faster than json on a 256-row request here); a body orjson refuses is parsed again
by json, so that what json reads (a huge integer, a lone surrogate) is refused field by field as before, and what it
cannot read gets its message. A batch is checked in one vectorised pass (row keys, one type set per column of
values, one finiteness test on the matrix); any irregularity sends it through the field-by-field check instead,
which names the field and the problem, so a request is refused with the same answer either way.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np
import orjson

BAD_REQUEST, NOT_FOUND, CONFLICT, TOO_LARGE, UNPROCESSABLE = 400, 404, 409, 413, 422
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_NAME = 200  # characters of a scenario or model name
LABEL_KEYS = ("label", "soft_label")
ROW_KEYS = frozenset(("scenario", "features"))
NUMBER_TYPES = frozenset((int, float))  # exact types: bool is not a number here


class RequestProblem(Exception):
    """A request the service refuses: HTTP `status`, the JSON path of the `field` at fault and the `problem`."""

    def __init__(self, status: int, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.status, self.field, self.problem = status, field, problem

    def body(self) -> dict:
        return {"error": {"field": self.field, "problem": self.problem}}


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_rows: int = 1024  # rows of one scoring request
    max_body_bytes: int = 2 * 1024 * 1024
    min_onboard_rows: int = 50  # the smallest onboarding sample the worlds suite measures
    max_onboard_rows: int = 5000


@dataclass(frozen=True)
class ScoreRequest:
    model: str
    features: np.ndarray  # [rows, d] float32, raw (not yet z-scored)
    scenarios: list[str]


@dataclass(frozen=True)
class OnboardRequest:
    model: str
    features: np.ndarray  # [rows, d] float32, raw


def parse_json(raw: bytes, limits: Limits) -> dict:
    """The body as a JSON object; 413 over the size limit, 400 when it is not JSON (NaN/Infinity included)."""
    if len(raw) > limits.max_body_bytes:
        raise RequestProblem(TOO_LARGE, "body", f"{len(raw)} bytes; at most {limits.max_body_bytes}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _parse_slowly(raw)
    if not isinstance(body, dict):
        raise RequestProblem(BAD_REQUEST, "body", f"must be a JSON object {{...}}, not {_kind(body)}")
    return body


def _parse_slowly(raw: bytes):
    """json's reading of a body orjson refused: the value json reads, or 400 with json's message."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RequestProblem(BAD_REQUEST, "body", f"not valid JSON ({exc})") from None
    except ValueError as exc:
        raise RequestProblem(BAD_REQUEST, "body", str(exc)) from None


def score_request(body: dict, models: Mapping[str, list[str]], limits: Limits) -> ScoreRequest:
    """One row (`scenario`, `features`) or a batch (`rows`: a list of such objects), for the model named `model`
    (optional when one model is served). `models`: each served model's features in manifest order."""
    _only_keys(body, "", ("model", "scenario", "features", "rows"))
    model = model_name(body, models)
    batch = "rows" in body
    if batch:
        for key in ("scenario", "features"):
            if key in body:
                raise RequestProblem(UNPROCESSABLE, key, "give rows, or one row's scenario and features, not both")
    rows = _rows(body["rows"], "rows", limits.max_rows, 1) if batch else [body]
    checked = _checked_at_once(rows, models[model], batch)
    if checked is not None:
        return ScoreRequest(model, *checked)
    scenarios, values = [], []
    for i, row in enumerate(rows):
        at = f"rows[{i}]" if batch else ""
        if batch:
            _only_keys(row, at, ("scenario", "features"))
        scenarios.append(_scenario(row, _join(at, "scenario")))
        values.append(_feature_values(row, _join(at, "features"), models[model], model))
    return ScoreRequest(model, _matrix(values), scenarios)


def _checked_at_once(rows: list, features: list[str], batch: bool) -> tuple[np.ndarray, list[str]] | None:
    """The rows' float32 matrix and scenario names when every row is well formed, checked in a few C-speed passes;
    None at the first irregularity (the field-by-field check then finds and names it)."""
    n = len(features)
    try:
        if batch and not all(type(row) is dict and row.keys() <= ROW_KEYS for row in rows):
            return None
        scenarios = [row["scenario"] for row in rows]
        given = [row["features"] for row in rows]
        kinds = set(map(type, given))
        if len(kinds) != 1 or any(len(values) != n for values in given):
            return None
        if dict in kinds:
            pick = operator.itemgetter(*features) if n > 1 else (lambda values: (values[features[0]],))
            given = list(map(pick, given))  # the lengths match, so every feature present means no extra one
        elif list not in kinds:
            return None
        if not set(map(type, chain.from_iterable(given))) <= NUMBER_TYPES or set(map(type, scenarios)) != {str}:
            return None
        matrix = np.fromiter(chain.from_iterable(given), dtype=np.float64, count=len(given) * n).reshape(-1, n)
    except (KeyError, TypeError, OverflowError, ValueError):
        return None
    if not all(map(_is_name, set(scenarios))):
        return None
    if not (np.abs(matrix) <= FLOAT32_MAX).all():  # NaN fails too
        return None
    return matrix.astype(np.float32), scenarios


def onboard_request(body: dict, scenario: str, models: Mapping[str, list[str]], limits: Limits) -> OnboardRequest:
    """Unlabelled rows of a new scenario: `rows`, each `{"features": ...}`, at least `limits.min_onboard_rows`."""
    _check_name(scenario, "scenario")
    _only_keys(body, "", ("model", "rows"))
    model = model_name(body, models)
    if "rows" not in body:
        raise RequestProblem(UNPROCESSABLE, "rows", "missing: give the new scenario's unlabelled rows")
    rows = _rows(body["rows"], "rows", limits.max_onboard_rows, limits.min_onboard_rows)
    values = []
    for i, row in enumerate(rows):
        for key in LABEL_KEYS:
            if key in row:
                raise RequestProblem(UNPROCESSABLE, f"rows[{i}].{key}", "onboarding takes unlabelled rows only; "
                                     "remove the labels")
        _only_keys(row, f"rows[{i}]", ("features", "scenario"))
        if "scenario" in row and row["scenario"] != scenario:
            raise RequestProblem(UNPROCESSABLE, f"rows[{i}].scenario", f"{row['scenario']!r} is not the scenario "
                                 f"being onboarded ({scenario!r})")
        values.append(_feature_values(row, f"rows[{i}].features", models[model], model))
    return OnboardRequest(model, _matrix(values))


def rollout_request(body: dict) -> str | None:
    """`{"run": RUN_DIR}`: the run to serve the model from (absent: the model's own run folder, read again, for
    weights retrained in place)."""
    _only_keys(body, "", ("run",))
    run = body.get("run")
    if run is not None and (not isinstance(run, str) or not run.strip() or len(run) > 4096):
        raise RequestProblem(UNPROCESSABLE, "run", "must be the path of a run directory the replicas can read, not "
                             + (_kind(run) if not isinstance(run, str) else "a blank or over-long string"))
    return run


def model_name(body: dict, models: Mapping[str, list[str]]) -> str:
    """The model the request names; optional when only one is served (404 for a name not served)."""
    if "model" not in body:
        if len(models) == 1:
            return next(iter(models))
        raise RequestProblem(UNPROCESSABLE, "model", f"missing: {len(models)} models are served, name one of "
                             f"{sorted(models)}")
    name = body["model"]
    if not isinstance(name, str):
        raise RequestProblem(UNPROCESSABLE, "model", f"must be a string, not {_kind(name)}")
    if name not in models:
        raise RequestProblem(NOT_FOUND, "model", f"{name[:MAX_NAME]!r} is not served; served: {sorted(models)}")
    return name


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number; every value must be finite")


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _join(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _only_keys(obj, at: str, allowed: tuple[str, ...]) -> None:
    if not isinstance(obj, dict):
        raise RequestProblem(UNPROCESSABLE, at or "body", f"must be an object {{...}}, not {_kind(obj)}")
    extra = [key for key in obj if key not in allowed]
    if extra:
        raise RequestProblem(UNPROCESSABLE, _join(at, str(extra[0])[:MAX_NAME]),
                             f"unknown field; allowed: {list(allowed)}")


def _rows(rows, at: str, most: int, least: int) -> list:
    if not isinstance(rows, list):
        raise RequestProblem(UNPROCESSABLE, at, f"must be a list of rows, not {_kind(rows)}")
    if len(rows) < least:
        what = "empty" if not rows else f"{len(rows)} rows"
        raise RequestProblem(UNPROCESSABLE, at, f"{what}; at least {least} row{'s' if least > 1 else ''}")
    if len(rows) > most:
        raise RequestProblem(TOO_LARGE, at, f"{len(rows)} rows; at most {most} per request")
    return rows


def _is_name(name: str) -> bool:
    """A scenario or model name: 1 to MAX_NAME printable characters, not all blank."""
    return bool(name.strip()) and len(name) <= MAX_NAME and name.isprintable()


def _check_name(name, at: str) -> str:
    if not isinstance(name, str):
        raise RequestProblem(UNPROCESSABLE, at, f"must be a string, not {_kind(name)}")
    if not _is_name(name):
        raise RequestProblem(UNPROCESSABLE, at, f"must be 1 to {MAX_NAME} printable characters, not all blank")
    return name


def _scenario(row: dict, at: str) -> str:
    if "scenario" not in row:
        raise RequestProblem(UNPROCESSABLE, at, "missing: the row's scenario name")
    return _check_name(row["scenario"], at)


def _feature_values(row: dict, at: str, features: list[str], model: str) -> list:
    """The row's feature values in manifest order, each a JSON number."""
    if "features" not in row:
        raise RequestProblem(UNPROCESSABLE, at, f"missing: an object {{name: value}} or a list of {len(features)} "
                             "numbers in manifest order")
    given = row["features"]
    if isinstance(given, dict):
        missing = [name for name in features if name not in given]
        if missing:
            raise RequestProblem(UNPROCESSABLE, f"{at}.{missing[0]}", f"missing ({len(missing)} missing in all); "
                                 f"model {model!r} takes {features}")
        if len(given) != len(features):
            extra = next(name for name in given if name not in features)
            raise RequestProblem(UNPROCESSABLE, f"{at}.{extra[:MAX_NAME]}", f"not a feature of model {model!r} "
                                 f"(its features: {features})")
        values, names = [given[name] for name in features], features
    elif isinstance(given, list):
        if len(given) != len(features):
            raise RequestProblem(UNPROCESSABLE, at, f"{len(given)} values; model {model!r} takes {len(features)} "
                                 f"in manifest order: {features}")
        values, names = given, [f"[{j}]" for j in range(len(features))]
    else:
        raise RequestProblem(UNPROCESSABLE, at, f"must be an object {{name: value}} or a list of numbers, not "
                             f"{_kind(given)}")
    for name, value in zip(names, values, strict=True):
        if type(value) not in NUMBER_TYPES or not abs(value) <= FLOAT32_MAX:  # NaN fails <= too
            where = f"{at}{name}" if name.startswith("[") else f"{at}.{name}"
            problem = (f"must be a number, not {_kind(value)}" if type(value) not in NUMBER_TYPES
                       else f"{value!r} is not a finite float32 number")
            raise RequestProblem(UNPROCESSABLE, where, problem)
    return values


def _matrix(values: list[list]) -> np.ndarray:
    """[rows, d] float32 of checked values."""
    return np.asarray(values, dtype=np.float64).astype(np.float32)
