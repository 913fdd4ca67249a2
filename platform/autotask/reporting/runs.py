"""Reading run directories (config.json, metrics.parquet, predictions.parquet); errors name what lacks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

RUN_FILES = ("config.json", "metrics.parquet", "predictions.parquet")
PREDICTION_COLUMNS = ("row_id", "scenario", "seen", "split", "label")
DEFAULT_SCORE = "score"


class RunDirError(ValueError):
    """A run directory is incomplete or lacks a column; the message names the directory and what lacks."""


@dataclass(frozen=True, eq=False)
class Run:
    """One finished run: its directory, config and predictions."""

    path: Path
    config: dict
    predictions: pd.DataFrame

    @property
    def name(self) -> str:
        return str(self.config.get("run_name") or self.path.name)

    @property
    def variant(self) -> str:
        return str(self.config.get("variant") or self.name)

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    @property
    def protocol(self) -> str:
        """How the run's rows were scored (config.json's eval_block_size), in words."""
        size = self.config.get("training", {}).get("eval_block_size")
        if self.config.get("model") != "autotask":
            return f"{self.config.get('model', 'model')}: each row on its own"
        if size is None:
            return "autotask: not recorded (a run written before the scoring protocol existed)"
        served = " (as served)" if size == 1 else " (an in-context mode, not the serving path)"
        return f"autotask: facet-2 blocks of {size} row{'s' * (size > 1)} of one scenario and split{served}"

    def require(self, column: str) -> None:
        """Raise RunDirError when predictions.parquet lacks `column`."""
        if column not in self.predictions.columns:
            scores = [c for c in self.predictions.columns if c.startswith("score") or c == "oracle_p"]
            raise RunDirError(f"{self.path}: predictions.parquet has no column {column!r} "
                              f"(score columns: {scores})")


def load_run(path: str | Path) -> Run:
    """Read a run directory; RunDirError names the directory and the missing file or column."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: not a run directory (no such folder)")
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise RunDirError(f"{path}: incomplete run directory, missing {', '.join(missing)}")
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: config.json is not valid JSON ({exc})") from exc
    predictions = pd.read_parquet(path / "predictions.parquet")
    run = Run(path, config, predictions)
    for column in PREDICTION_COLUMNS:
        run.require(column)
    return run


def split_column(arg: str) -> tuple[str, str | None]:
    """'RUN_DIR:COLUMN' -> (RUN_DIR, COLUMN); plain RUN_DIR (or existing path with ':') -> (arg, None)."""
    head, sep, tail = arg.rpartition(":")
    if not sep or not head or "/" in tail or Path(arg).exists():
        return arg, None
    return head, tail


def study_run_dirs(study: str | Path) -> list[Path]:
    """Every run directory (a folder with config.json) under `study`, sorted; hidden folders are skipped."""
    study = Path(study)
    if not study.is_dir():
        raise RunDirError(f"{study}: no such study directory")
    found = sorted(p.parent for p in study.rglob("config.json")
                   if not any(part.startswith(".") for part in p.relative_to(study).parts))
    if not found:
        raise RunDirError(f"{study}: no run directory (folder with config.json) under it")
    return found
