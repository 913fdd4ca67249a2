"""The MLflow client side of tracking: one run created and filled (`log_entry`), a folder's record of what it
logged (FOLDER/mlflow.json), experiments by name, MLflow's own errors turned into a TrackingError."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from autotask.preflight import InputError
from autotask.storage import atomic_write_text
from autotask.tracking.values import key, text

RECORD = "mlflow.json"  # FOLDER/mlflow.json: {tracking URI: {"run_id": ..., "experiment_id": ...}}
PARENT_TAG = "mlflow.parentRunId"
MAX_PARAM = 6000  # MLflow's limit on a param value's length
MAX_TAG = 8000


class TrackingError(InputError):
    """The tracking server cannot be reached or refused what was logged; the message says what to do."""


@dataclass
class Entry:
    """One MLflow run to create: its name, parent, params, tags, metrics (name, value, step) and artifacts (path,
    artifact folder or None)."""

    name: str
    params: dict
    tags: dict
    metrics: list[tuple[str, float, int]] = field(default_factory=list)
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)
    parent: str | None = None
    status: str = "FINISHED"


def log_entry(client, tracking_uri: str, experiment: str, entry: Entry, folder: Path | None = None,
              finish: bool = True, record: bool = True) -> str:
    """Create the run and log everything of `entry`; with `folder` and `record`, FOLDER/mlflow.json records it."""
    try:
        experiment_id = experiment_id_of(client, experiment)
        run_id = _create(client, experiment_id, entry)
        if finish:
            client.set_terminated(run_id, status=entry.status)
    except mlflow_errors() as exc:
        where = f" {folder}:" if folder else ""
        raise TrackingError(f"--tracking-uri {tracking_uri}:{where} logging to MLflow failed ({exc}); the results "
                            "are on disk: re-run the same command to log them") from exc
    if folder is not None and record:
        write_record(folder, tracking_uri, run_id, experiment_id)
    return run_id


def _create(client, experiment_id: str, entry: Entry) -> str:
    from mlflow.entities import Metric, Param

    run_tags = {k: str(v)[:MAX_TAG] for k, v in entry.tags.items() if v is not None}
    if entry.parent:
        run_tags[PARENT_TAG] = entry.parent
    run_id = client.create_run(experiment_id, run_name=entry.name, tags=run_tags).info.run_id
    param_items = [Param(k, text(v)[:MAX_PARAM]) for k, v in entry.params.items()]
    for start in range(0, len(param_items), 100):  # MLflow's batch limits: 100 params, 1000 metrics
        client.log_batch(run_id, params=param_items[start : start + 100])
    now = int(time.time() * 1000)
    metric_items = [Metric(key(k), v, now, step) for k, v, step in entry.metrics if math.isfinite(v)]
    for start in range(0, len(metric_items), 1000):
        client.log_batch(run_id, metrics=metric_items[start : start + 1000])
    for path, artifact_path in entry.artifacts:
        if path.exists():
            client.log_artifact(run_id, str(path), artifact_path)
    return run_id


def client_for(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri)


def terminate(client, tracking_uri: str, run_id: str) -> None:
    try:
        client.set_terminated(run_id)
    except mlflow_errors() as exc:
        raise TrackingError(f"--tracking-uri {tracking_uri}: logging to MLflow failed ({exc})") from exc


def mlflow_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError)


def recorded(client, folder: Path, tracking_uri: str) -> str | None:
    """The run id FOLDER/mlflow.json records for this URI, if that run still exists there (not deleted)."""
    path = folder / RECORD
    if not path.exists():
        return None
    entry = json.loads(path.read_text()).get(tracking_uri)
    if not entry:
        return None
    try:
        run = client.get_run(entry["run_id"])
    except mlflow_errors():
        return None  # the server lost it (a new database): log again
    return entry["run_id"] if run.info.lifecycle_stage == "active" else None


def write_record(folder: Path, tracking_uri: str, run_id: str, experiment_id: str) -> None:
    path = folder / RECORD
    record = json.loads(path.read_text()) if path.exists() else {}
    record[tracking_uri] = {"run_id": run_id, "experiment_id": experiment_id}
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True))


def experiment_id_of(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except mlflow_errors():  # created meanwhile by another driver
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id
