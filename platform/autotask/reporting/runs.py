"""Reading run directories (config.json, metrics.parquet, predictions.parquet); errors name what lacks."""

from __future__ import annotations

import json
import os
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

    @property
    def data(self) -> str | None:
        """The dataset the run was trained and scored on (config.json's `data`), normalised."""
        data = self.config.get("data")
        if data is None or "://" in str(data):  # a URI (s3://...) as written
            return None if data is None else str(data)
        return os.path.normpath(str(data))

    def same_data(self, other: Run) -> bool:
        """Whether both runs name one dataset: the same path as written, or one existing folder from here."""
        if self.data == other.data:
            return True
        if self.data is None or other.data is None or "://" in self.data or "://" in other.data:
            return False
        mine, theirs = Path(self.data), Path(other.data)
        return mine.exists() and theirs.exists() and mine.resolve() == theirs.resolve()

    def require(self, column: str, source: str = "") -> None:
        """Raise RunDirError when predictions.parquet lacks `column` (`source`: the flag that named it)."""
        if column not in self.predictions.columns:
            scores = [c for c in self.predictions.columns if c.startswith("score") or c == "oracle_p"]
            named = f"named by {source}; " if source else ""
            raise RunDirError(f"{self.path}: predictions.parquet has no column {column!r} "
                              f"({named}score columns: {scores})")

    def first_column(self, choices: str) -> str:
        """The first of comma-separated `choices` this run has ('score_paper,score': the paper's rule where the run
        scored one, else its score); a single name is returned as it is."""
        names = [name.strip() for name in choices.split(",") if name.strip()]
        return next((name for name in names if name in self.predictions.columns), names[0] if names else choices)

    def rows(self, split: str) -> pd.DataFrame:
        """The run's predictions on `split`."""
        return self.predictions[self.predictions["split"] == split]


def load_run(path: str | Path) -> Run:
    """Read a run directory; RunDirError names the directory and the missing file or column."""
    path = Path(path)
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "no such folder"
        raise RunDirError(f"{path}: not a run directory ({what})")
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise RunDirError(f"{path}: incomplete run directory, missing {', '.join(missing)}")
    try:
        config = json.loads((path / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: config.json is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise RunDirError(f"{path}: config.json is not a JSON object (a run config)")
    try:
        predictions = pd.read_parquet(path / "predictions.parquet")
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RunDirError(f"{path}: predictions.parquet is not readable Parquet ({exc})") from exc
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
        what = "a file, not a folder" if study.exists() else "no such folder"
        raise RunDirError(f"--study {study}: not a study directory ({what})")
    found = sorted(p.parent for p in study.rglob("config.json")
                   if not any(part.startswith(".") for part in p.relative_to(study).parts))
    if not found:
        raise RunDirError(f"--study {study}: no run directory (folder with config.json) under it")
    return found
