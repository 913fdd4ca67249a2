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
import os
import urllib.error
import urllib.request
from pathlib import Path

from autotask.flat import flat_config
from autotask.tracking.mlflow_client import (  # noqa: F401 (RECORD, PARENT_TAG, TrackingError: public here too)
    PARENT_TAG,
    RECORD,
    Entry,
    TrackingError,
    client_for,
    experiment_id_of,
    log_entry,
    recorded,
    terminate,
    write_record,
)
from autotask.tracking.values import history_metrics, missing, test_metrics, trial_histories

ENV = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "autotask"
RUN_ARTIFACTS = ("config.json", "metrics.parquet", "data.json", "model/history.json", "model/model_config.json")
SEARCH_ARTIFACTS = ("trials.parquet", "best_config.json", "search.json", "pareto.parquet")


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
    client = client_for(tracking_uri)
    if (known := recorded(client, run_dir, tracking_uri)) is not None:
        return known
    config = json.loads((run_dir / "config.json").read_text())
    provenance = config.pop("provenance", {}) or {}
    tags = {"autotask.kind": "run", "autotask.run_dir": str(run_dir.resolve()), "autotask.model": config.get("model"),
            "autotask.variant": config.get("variant"), **flat_config(provenance, "provenance.")}
    metrics = [*history_metrics(run_dir / "model" / "history.json"), *test_metrics(run_dir / "metrics.parquet")]
    artifacts = [(run_dir / name, str(Path(name).parent) if "/" in name else None) for name in RUN_ARTIFACTS]
    name = run_name or config.get("run_name") or run_dir.name
    entry = Entry(name, flat_config(config), tags, metrics, artifacts, parent=parent_run_id)
    return log_entry(client, tracking_uri, experiment, entry, folder=run_dir)


def log_study(out: str | Path, run_dirs: list[str | Path], tracking_uri: str,
              experiment: str = DEFAULT_EXPERIMENT) -> str:
    """One parent run for the study in OUT and a child per run directory (each as `log_run` logs it)."""
    out = Path(out)
    client = client_for(tracking_uri)
    parent = recorded(client, out, tracking_uri)
    if parent is None:
        record = json.loads((out / "study.json").read_text()) if (out / "study.json").exists() else {}
        runs = record.get("runs", {})
        params = {"study.runs": ",".join(runs), "study.n_runs": len(runs),
                  "study.data": ",".join(record.get("data", {}))}
        tags = {"autotask.kind": "study", "autotask.run_dir": str(out.resolve()),
                **flat_config(record.get("provenance") or {}, "provenance.")}
        entry = Entry(out.name, params, tags, artifacts=[(out / "study.json", None)])
        parent = log_entry(client, tracking_uri, experiment, entry, folder=out, finish=False)
    for run_dir in run_dirs:
        log_run(run_dir, tracking_uri, experiment, parent_run_id=parent, run_name=Path(run_dir).name)
    terminate(client, tracking_uri, parent)
    return parent


def log_search(out: str | Path, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT,
               storage: str | None = None) -> str:
    """One parent run for the search in OUT, a child per trial (read from trials.parquet and Tune's per-trial
    result.json under STORAGE/search, default OUT/ray/search) and, after --retrain-best, a child for OUT/best."""
    import pandas as pd

    out = Path(out)
    client = client_for(tracking_uri)
    parent = recorded(client, out, tracking_uri)
    if parent is not None:
        return parent
    search = json.loads((out / "search.json").read_text())
    metric = search.get("metric", "valid_roc_auc")
    trials = pd.read_parquet(out / "trials.parquet")
    best_column = f"best_{metric}"
    history = trial_histories(out, storage)
    parent_metrics = []
    if best_column in trials and trials[best_column].notna().any():
        parent_metrics.append((best_column, float(trials[best_column].max()), 0))
    parent_metrics.append(("trials", float(len(trials)), 0))
    entry = Entry(out.name, flat_config(search, "search."), {"autotask.kind": "search",
                                                            "autotask.run_dir": str(out.resolve())},
                  parent_metrics, [(out / name, None) for name in SEARCH_ARTIFACTS])
    parent = log_entry(client, tracking_uri, experiment, entry, folder=out, finish=False, record=False)
    trial_columns = {"trial_id", "status", "d", best_column, "epochs_run", "n_params", "duration_s"}
    for _, row in trials.iterrows():
        trial_id = str(row["trial_id"])
        params = {k: v for k, v in row.items() if k not in trial_columns and not missing(v)}
        metrics = list(history.get(trial_id, []))
        metrics += [(name, float(row[name]), 0) for name in (best_column, "epochs_run", "n_params", "duration_s")
                    if name in row and not missing(row[name])]
        tags = {"autotask.kind": "trial", "autotask.trial_id": trial_id, "autotask.status": str(row["status"])}
        log_entry(client, tracking_uri, experiment, Entry(f"trial_{trial_id}", flat_config(params), tags, metrics,
                                                          parent=parent, status=_trial_status(row["status"])))
    if (out / "best" / "metrics.parquet").exists():
        log_run(out / "best", tracking_uri, experiment, parent_run_id=parent)
    terminate(client, tracking_uri, parent)
    write_record(out, tracking_uri, parent, experiment_id_of(client, experiment))
    return parent




def _trial_status(status: str) -> str:
    return "FAILED" if status == "ERROR" else "FINISHED"
