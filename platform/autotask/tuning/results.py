"""Search results as data: trials.parquet, best_config.json and the Pareto front."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.manifest import Manifest
from autotask.location import Location

EXPERIMENT = "search"  # Tune's experiment folder under a search's storage (beside `trials/`, the Train runs)
TRIALS_NAME = "run_trial"  # the trainable's name: Tune names each trial's folder run_trial_<id>_<n>_<params>


def trials_frame(result_grid, metric: str, manifest: Manifest, mode: str = "max",
                 trials_storage: Location | None = None) -> pd.DataFrame:
    """One row per trial: its parameters (with d, e1, e2 and both learning rates), metrics, status, duration;
    `best_<metric>` is the trial's best report by `mode` (max or min).

    A trial restored by --resume may come back without its history (Tune's record of its reports): its last report
    then carries the best, and without one its latest Train checkpoint under `trials_storage` does (its history)."""
    rows = []
    for result in result_grid:
        history = result.metrics_dataframe
        last = result.metrics or {}
        if (history is None or metric not in history) and not last and trials_storage is not None:
            folders = [trials_storage / f"trial_{trial_id_from_folder(result.path)}"]  # a worker group's checkpoints
            if result.path:  # an in-process trial's checkpoints are Tune's, in its folder of the experiment
                folders.append(trials_storage.parent / EXPERIMENT / Path(result.path).name)
            history = next((h for h in map(checkpoint_history, folders) if h is not None), None)
        if history is not None and metric in history:
            best = float(history[metric].max() if mode == "max" else history[metric].min())
        else:
            best = float(last.get(f"best_{metric}", last.get(metric, np.nan)))
        config = dict(result.config or {})
        e1 = config.get("e1")
        rows.append(
            {
                "trial_id": last.get("trial_id", result.path.rsplit("_", 2)[-2] if result.path else ""),
                "trial_number": trial_number(result.path),
                "status": trial_status(result, history, last),
                "d": manifest.d,
                **config,
                "e2": config.get("e2", manifest.d * e1 if e1 else np.nan),
                f"best_{metric}": best,
                "epochs_run": int(last.get("training_iteration", len(history) if history is not None else 0)),
                "n_params": last.get("n_params", np.nan),
                "duration_s": float(last.get("time_total_s", np.nan)),
            }
        )
    return pd.DataFrame(rows)  # in the result grid's order: a row's index is its result's index there


def trial_status(result, history, last: dict) -> str:
    """ERROR, TERMINATED, or LOST: a trial Tune restored without its config, reports or checkpoints (one created
    just before an interruption); it is listed, never chosen as the best."""
    if result.error:
        return "ERROR"
    return "LOST" if not result.config and not last and history is None else "TERMINATED"


def checkpoint_history(folder: Location) -> pd.DataFrame | None:
    """The per-epoch reports saved in a Train run's latest checkpoint (state.json's history), or None."""
    states = sorted(folder.files("state.json"), key=lambda location: location.parent.name) if folder.is_dir() else []
    if not states:
        return None
    history = json.loads(states[-1].read_text()).get("history", [])
    return pd.DataFrame(history) if history else None


def trial_id_from_folder(path: str | None) -> str:
    """`<id>` of Tune's trial folder name `run_trial_<id>_<n>_<params>`."""
    match = re.match(r"[^_]+_trial_([0-9a-f]+)_", Path(path).name) if path else None
    return match.group(1) if match else ""


def trial_number(path: str | None) -> float:
    """The trial's place in the search (1, 2, ...) from Tune's trial folder name `run_trial_<id>_<n>_<params>`."""
    match = re.match(r"[^_]+_trial_[0-9a-f]+_(\d+)", Path(path).name) if path else None
    return float(match.group(1)) if match else np.nan


def best_trial(frame: pd.DataFrame, metric: str, mode: str) -> pd.Series:
    """The trial with the best `best_<metric>` by `mode` (NaN never wins)."""
    return frame.sort_values(f"best_{metric}", ascending=mode == "min", na_position="last").iloc[0]


def pareto_front(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """Rows not dominated on `objectives` ({column: "max"|"min"})."""
    signs = np.array([1.0 if mode == "max" else -1.0 for mode in objectives.values()])
    values = frame[list(objectives)].to_numpy(dtype=float) * signs
    keep = []
    for row in values:
        dominated = np.any(np.all(values >= row, axis=1) & np.any(values > row, axis=1))
        keep.append(not dominated and np.all(np.isfinite(row)))
    return frame[np.array(keep, dtype=bool)].sort_values(list(objectives)[0], ascending=False)
