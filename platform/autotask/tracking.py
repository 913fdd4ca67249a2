"""MLflow experiment tracking: finished runs, studies and searches logged from the driver, read from their folders.

Only with `--tracking-uri URI` or MLFLOW_TRACKING_URI; without either nothing is logged and mlflow is never imported.
Everything is logged after the work has finished, from what the run (study, search) directory holds, so Ray's workers
never need the tracking server. A logged folder records its MLflow run in FOLDER/mlflow.json (per tracking URI) and is
not logged twice there: a re-run that reuses a finished run logs nothing new.

  run     params: the run's config flattened (training.lr_head, model_config.e1, ...); tags provenance.*
          metrics: per epoch (step = epoch) every number in model/history.json (train_loss, valid_roc_auc, ...);
          test.<metric>.<scenario> and test.<metric>.mean_seen / mean_unseen from metrics.parquet (score column
          `score`; other score columns as test.<score_col>.<metric>.<scenario>)
          artifacts: config.json, metrics.parquet, data.json, model/history.json, model/model_config.json
  study   a parent run (params study.*: seeds, runs; artifact study.json) with one child per run directory
  search  a parent run (params search.*, metric best_<metric>; artifacts trials.parquet, best_config.json, ...) with
          one child per trial (params: the sampled config; metrics per epoch from Tune's result.json, best_<metric>)
          and, after --retrain-best, a child for OUT/best logged as a run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from autotask.flat import flat_config
from autotask.preflight import InputError
from autotask.storage import atomic_write_text

ENV = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "autotask"
RECORD = "mlflow.json"  # FOLDER/mlflow.json: {tracking URI: {"run_id": ..., "experiment_id": ...}}
PARENT_TAG = "mlflow.parentRunId"
RUN_ARTIFACTS = ("config.json", "metrics.parquet", "data.json", "model/history.json", "model/model_config.json")
SEARCH_ARTIFACTS = ("trials.parquet", "best_config.json", "search.json", "pareto.parquet")
# Bookkeeping numbers in a history entry or a Tune result, not metrics of the model.
NOT_METRICS = {"epoch", "training_iteration", "timestamp", "pid", "iterations_since_restore", "time_since_restore",
               "time_total_s", "done", "n_params"}
MAX_PARAM = 6000  # MLflow's limit on a param value's length
MAX_TAG = 8000


class TrackingError(InputError):
    """The tracking server cannot be reached or refused what was logged; the message says what to do."""


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", dest="tracking_uri",
                        help=f"MLflow tracking URI (http://HOST:PORT, sqlite:///FILE, ...; default {ENV}); "
                        "the finished work is logged there. Without it nothing is logged")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT,
                        help=f"MLflow experiment name (default {DEFAULT_EXPERIMENT})")


def resolve(args: argparse.Namespace) -> str | None:
    """The tracking URI of the flags or the environment (None: no tracking), checked reachable before any work."""
    uri = getattr(args, "tracking_uri", None) or os.environ.get(ENV) or None
    if uri and uri.startswith(("http://", "https://")):
        check_server(uri)
    return uri


def check_server(uri: str, timeout: float = 10.0) -> None:
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingError(f"--tracking-uri {uri}: the MLflow tracking server does not answer ({exc}); start it "
                            f"(mlflow server ...) or drop --tracking-uri / {ENV}") from exc


# ----------------------------------------------------------------------------------------------------------- logging


def log_run(run_dir: str | Path, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT,
            parent_run_id: str | None = None, run_name: str | None = None) -> str:
    """Log a finished run directory once per tracking URI; returns its MLflow run id (the recorded one if logged).
    `run_name`: the MLflow run's name (default the config's run_name)."""
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.parquet").exists():
        raise TrackingError(f"{run_dir}: not a finished run (no metrics.parquet); nothing to log")
    client = _client(tracking_uri)
    if (known := _recorded(client, run_dir, tracking_uri)) is not None:
        return known
    config = json.loads((run_dir / "config.json").read_text())
    provenance = config.pop("provenance", {}) or {}
    tags = {"autotask.kind": "run", "autotask.run_dir": str(run_dir.resolve()), "autotask.model": config.get("model"),
            "autotask.variant": config.get("variant"), **flat_config(provenance, "provenance.")}
    metrics = [*_history_metrics(run_dir / "model" / "history.json"), *_test_metrics(run_dir / "metrics.parquet")]
    artifacts = [(run_dir / name, str(Path(name).parent) if "/" in name else None) for name in RUN_ARTIFACTS]
    name = run_name or config.get("run_name") or run_dir.name
    return _log(client, tracking_uri, run_dir, experiment, name, parent_run_id,
                params=flat_config(config), tags=tags, metrics=metrics, artifacts=artifacts)


def log_study(out: str | Path, run_dirs: list[str | Path], tracking_uri: str,
              experiment: str = DEFAULT_EXPERIMENT) -> str:
    """One parent run for the study in OUT and a child per run directory (each as `log_run` logs it)."""
    out = Path(out)
    client = _client(tracking_uri)
    parent = _recorded(client, out, tracking_uri)
    if parent is None:
        record = json.loads((out / "study.json").read_text()) if (out / "study.json").exists() else {}
        runs = record.get("runs", {})
        params = {"study.runs": ",".join(runs), "study.n_runs": len(runs),
                  "study.data": ",".join(record.get("data", {}))}
        tags = {"autotask.kind": "study", "autotask.run_dir": str(out.resolve()),
                **flat_config(record.get("provenance") or {}, "provenance.")}
        parent = _log(client, tracking_uri, out, experiment, out.name, None, params=params, tags=tags, metrics=[],
                      artifacts=[(out / "study.json", None)], finish=False)
    for run_dir in run_dirs:
        log_run(run_dir, tracking_uri, experiment, parent_run_id=parent, run_name=Path(run_dir).name)
    _terminate(client, tracking_uri, parent)
    return parent


def log_search(out: str | Path, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT,
               storage: str | None = None) -> str:
    """One parent run for the search in OUT, a child per trial (read from trials.parquet and Tune's per-trial
    result.json under STORAGE/search, default OUT/ray/search) and, after --retrain-best, a child for OUT/best."""
    import pandas as pd

    out = Path(out)
    client = _client(tracking_uri)
    parent = _recorded(client, out, tracking_uri)
    if parent is not None:
        return parent
    search = json.loads((out / "search.json").read_text())
    metric = search.get("metric", "valid_roc_auc")
    trials = pd.read_parquet(out / "trials.parquet")
    best_column = f"best_{metric}"
    history = _trial_histories(out, storage)
    parent_metrics = []
    if best_column in trials and trials[best_column].notna().any():
        parent_metrics.append((best_column, float(trials[best_column].max()), 0))
    parent_metrics.append(("trials", float(len(trials)), 0))
    parent = _log(client, tracking_uri, out, experiment, out.name, None, params=flat_config(search, "search."),
                  tags={"autotask.kind": "search", "autotask.run_dir": str(out.resolve())}, metrics=parent_metrics,
                  artifacts=[(out / name, None) for name in SEARCH_ARTIFACTS], finish=False, record=False)
    trial_columns = {"trial_id", "status", "d", best_column, "epochs_run", "n_params", "duration_s"}
    for _, row in trials.iterrows():
        trial_id = str(row["trial_id"])
        params = {k: v for k, v in row.items() if k not in trial_columns and not _missing(v)}
        metrics = list(history.get(trial_id, []))
        metrics += [(name, float(row[name]), 0) for name in (best_column, "epochs_run", "n_params", "duration_s")
                    if name in row and not _missing(row[name])]
        _log(client, tracking_uri, None, experiment, f"trial_{trial_id}", parent, params=flat_config(params),
             tags={"autotask.kind": "trial", "autotask.trial_id": trial_id, "autotask.status": str(row["status"])},
             metrics=metrics, artifacts=[], status="FAILED" if row["status"] == "ERROR" else "FINISHED")
    if (out / "best" / "metrics.parquet").exists():
        log_run(out / "best", tracking_uri, experiment, parent_run_id=parent)
    _terminate(client, tracking_uri, parent)
    _write_record(out, tracking_uri, parent, _experiment_id(client, experiment))
    return parent


# ----------------------------------------------------------------------------------------------------------- helpers


def _client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def _terminate(client, tracking_uri: str, run_id: str) -> None:
    try:
        client.set_terminated(run_id)
    except _mlflow_errors() as exc:
        raise TrackingError(f"--tracking-uri {tracking_uri}: logging to MLflow failed ({exc})") from exc


def _mlflow_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError)


def _recorded(client, folder: Path, tracking_uri: str) -> str | None:
    """The run id FOLDER/mlflow.json records for this URI, if that run still exists there (not deleted)."""
    path = folder / RECORD
    if not path.exists():
        return None
    entry = json.loads(path.read_text()).get(tracking_uri)
    if not entry:
        return None
    try:
        run = client.get_run(entry["run_id"])
    except _mlflow_errors():
        return None  # the server lost it (a new database): log again
    return entry["run_id"] if run.info.lifecycle_stage == "active" else None


def _write_record(folder: Path, tracking_uri: str, run_id: str, experiment_id: str) -> None:
    path = folder / RECORD
    record = json.loads(path.read_text()) if path.exists() else {}
    record[tracking_uri] = {"run_id": run_id, "experiment_id": experiment_id}
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True))


def _experiment_id(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except _mlflow_errors():  # created meanwhile by another driver
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _log(client, tracking_uri: str, folder: Path | None, experiment: str, name: str, parent: str | None, *,
         params: dict, tags: dict, metrics: list[tuple[str, float, int]], artifacts: list[tuple[Path, str | None]],
         finish: bool = True, record: bool = True, status: str = "FINISHED") -> str:
    from mlflow.entities import Metric, Param

    try:
        experiment_id = _experiment_id(client, experiment)
        run_tags = {k: str(v)[:MAX_TAG] for k, v in tags.items() if v is not None}
        if parent:
            run_tags[PARENT_TAG] = parent
        run = client.create_run(experiment_id, run_name=name, tags=run_tags)
        run_id = run.info.run_id
        param_items = [Param(k, _text(v)[:MAX_PARAM]) for k, v in params.items()]
        for start in range(0, len(param_items), 100):  # MLflow's batch limits: 100 params, 1000 metrics
            client.log_batch(run_id, params=param_items[start : start + 100])
        now = int(time.time() * 1000)
        metric_items = [Metric(_key(k), v, now, step) for k, v, step in metrics if math.isfinite(v)]
        for start in range(0, len(metric_items), 1000):
            client.log_batch(run_id, metrics=metric_items[start : start + 1000])
        for path, artifact_path in artifacts:
            if path.exists():
                client.log_artifact(run_id, str(path), artifact_path)
        if finish:
            client.set_terminated(run_id, status=status)
    except _mlflow_errors() as exc:
        where = f" {folder}:" if folder else ""
        raise TrackingError(f"--tracking-uri {tracking_uri}:{where} logging to MLflow failed ({exc}); the results "
                            "are on disk: re-run the same command to log them") from exc
    if folder is not None and record:
        _write_record(folder, tracking_uri, run_id, experiment_id)
    return run_id


def _history_metrics(path: Path) -> list[tuple[str, float, int]]:
    """Every number of each epoch in a run's history.json, step = its epoch (none for LightGBM: no history)."""
    if not path.exists():
        return []
    entries = json.loads(path.read_text()).get("history", [])
    return [(key, float(value), int(entry.get("epoch", i))) for i, entry in enumerate(entries)
            for key, value in entry.items() if _number(value) and key not in NOT_METRICS]


def _test_metrics(path: Path) -> list[tuple[str, float, int]]:
    """test.<metric>.<scenario> per scenario and test.<metric>.mean_seen / .mean_unseen (other score columns than
    `score` as test.<score_col>.<metric>.<scenario>)."""
    import pandas as pd

    frame = pd.read_parquet(path)
    test = frame[frame["split"] == "test"]
    score_metrics = [c for c in ("roc_auc", "pr_auc") if c in test]
    out = []
    for score_col, rows in test.groupby("score_col", sort=True):
        prefix = "test" if score_col == "score" else f"test.{score_col}"
        for metric in score_metrics:
            out += [(f"{prefix}.{metric}.{scenario}", float(value), 0)
                    for scenario, value in zip(rows["scenario"], rows[metric], strict=True)]
            for label, seen in (("mean_seen", True), ("mean_unseen", False)):
                values = rows.loc[rows["seen"] == seen, metric].dropna()
                if len(values):
                    out.append((f"{prefix}.{metric}.{label}", float(values.mean()), 0))
    return out


def _trial_histories(out: Path, storage: str | None) -> dict[str, list[tuple[str, float, int]]]:
    """{trial id: per-epoch metrics} from each trial's result.json in Tune's experiment folder (one JSON a report)."""
    from autotask.tuning.results import EXPERIMENT
    from autotask.tuning.tuner import search_storage

    experiment = search_storage(out, storage) / EXPERIMENT
    histories: dict[str, list[tuple[str, float, int]]] = {}
    if not experiment.exists():
        return histories
    for result in experiment.files("result.json"):
        for line in result.read_text().splitlines():
            if not line.strip():
                continue
            report = json.loads(line)
            step = int(report.get("epoch", report.get("training_iteration", 1) - 1))
            histories.setdefault(str(report.get("trial_id")), []).extend(
                (key, float(value), step) for key, value in report.items()
                if _number(value) and key not in NOT_METRICS and not key.startswith("time_"))
    return histories


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays from a parquet row
        value = value.tolist()
    return json.dumps(value) if isinstance(value, (list, tuple, dict, bool)) or value is None else str(value)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _missing(value) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _key(name: str) -> str:
    """MLflow accepts letters, digits, _ - . / and spaces in a metric name."""
    return re.sub(r"[^\w\-./ ]", "_", name)
