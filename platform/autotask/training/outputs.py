"""Score the evaluation splits, calibrate, and write the run directory's result files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import LABEL, ORACLE_P, QUERY_ID, ROW_ID, SCENARIO, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.evaluation.metrics import scenario_metrics
from autotask.models.calibration import ScenarioCalibrator
from autotask.storage import atomic_write_parquet, atomic_write_text
from autotask.training.batches import TASK_ID, input_columns, to_model_inputs

EVAL_SPLITS = ("valid", "calib", "test")
CALIBRATED = "_calibrated"


def read_eval_frame(data: str, manifest: Manifest, language: bool = False
                    ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The valid/calib/test rows (small next to the training splits) and their model inputs."""
    columns = [ROW_ID, SCENARIO, SPLIT, LABEL, QUERY_ID, ORACLE_P, *input_columns(manifest, language)]
    frame = read_frame(data, columns=columns, splits=EVAL_SPLITS).reset_index(drop=True)
    return frame, to_model_inputs(frame, manifest, language=language)


def prediction_frame(frame: pd.DataFrame, inputs: dict, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The predictions.parquet columns, one row per evaluated row."""
    out = pd.DataFrame(
        {
            ROW_ID: frame[ROW_ID].to_numpy(),
            SCENARIO: frame[SCENARIO].astype(str).to_numpy(),
            TASK_ID: inputs[TASK_ID],
            "seen": inputs[TASK_ID] > 0,
            SPLIT: frame[SPLIT].astype(str).to_numpy(),
            LABEL: frame[LABEL].to_numpy(dtype=np.int64),
        }
    )
    for column in (QUERY_ID, ORACLE_P):
        if column in frame.columns:
            out[column] = frame[column].to_numpy()
    for name, values in scores.items():
        out[name] = np.asarray(values, dtype=np.float64)
    return out


def calibrate(predictions: pd.DataFrame, method: str) -> tuple[pd.DataFrame, dict]:
    """Fit a per-scenario calibrator for every score column on the calib split; add `<col>_calibrated`."""
    if method == "none":
        return predictions, {}
    fitted = {}
    calib = predictions[predictions[SPLIT] == "calib"]
    for column in [c for c in predictions.columns if c.startswith("score") and not c.endswith(CALIBRATED)]:
        calibrator = ScenarioCalibrator(method).fit(
            calib[column].to_numpy(), calib[LABEL].to_numpy(), calib[SCENARIO].to_numpy()
        )
        predictions[column + CALIBRATED] = calibrator.transform(
            predictions[column].to_numpy(), predictions[SCENARIO].to_numpy()
        )
        fitted[column] = calibrator.to_dict()
    return predictions, fitted


def metrics_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """metrics.parquet: one row per scenario, split and score column."""
    columns = [c for c in predictions.columns if c.startswith("score")]
    frames = [scenario_metrics(predictions, score_col=c).assign(score_col=c) for c in columns]
    return pd.concat(frames, ignore_index=True)


def write_results(run_dir: Path, predictions: pd.DataFrame, calibration: dict, model_files: dict[str, Path],
                  manifest: Manifest, protocol: dict) -> pd.DataFrame:
    """Write predictions, metrics and the model folder (each file atomically); returns the metrics.
    `protocol` (how the rows were scored, e.g. eval_block_size) is a column of every metrics row."""
    metrics = metrics_frame(predictions).assign(**protocol)
    model_dir = run_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for name, source in model_files.items():
        shutil.copyfile(source, model_dir / f".{name}.tmp")
        (model_dir / f".{name}.tmp").replace(model_dir / name)
    manifest.write(model_dir)
    atomic_write_text(model_dir / "calibration.json", json.dumps(calibration))
    atomic_write_parquet(predictions, run_dir / "predictions.parquet")
    atomic_write_parquet(metrics, run_dir / "metrics.parquet")  # written last: its presence marks a finished run
    return metrics
