"""Finding and reading a contract dataset's Parquet files, on local disk or any pyarrow filesystem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from autotask.data.contract import ROW_ID, SPLIT, TRAINING_SPLITS, ContractError
from autotask.location import Location


def dataset_files(dataset: str | Path | Location) -> list[Location]:
    """The dataset's Parquet files in a stable order (a single file, or every *.parquet under a folder)."""
    location = Location.of(dataset)
    if location.is_file():
        return [location]
    if not location.is_dir():
        raise ContractError(f"{location}: no such dataset file or folder")
    files = location.files(".parquet")
    if not files:
        raise ContractError(f"{location}: no Parquet files found")
    return files


def column_names(file: Location) -> list[str]:
    return pq.read_schema(file.path, filesystem=file.filesystem).names


def read_table(file: Location, columns: list[str] | None = None) -> pd.DataFrame:
    return pq.read_table(file.path, columns=columns, filesystem=file.filesystem).to_pandas()


def row_count(file: Location) -> int:
    return pq.read_metadata(file.path, filesystem=file.filesystem).num_rows


def read_frame(dataset: str | Path, columns: list[str] | None = None, splits=None) -> pd.DataFrame:
    """Read a (small) dataset into pandas, with `row_id` derived from file order when absent."""
    frames, offset = [], 0
    for file in dataset_files(dataset):
        names = column_names(file)
        extra = [ROW_ID] if splits is None else [ROW_ID, SPLIT]  # the split filter needs the split column
        wanted = None if columns is None else [c for c in dict.fromkeys([*columns, *extra]) if c in names]
        frame = read_table(file, columns=wanted)
        if ROW_ID not in frame.columns:
            frame.insert(0, ROW_ID, np.arange(offset, offset + len(frame), dtype=np.int64))
        offset += row_count(file)
        if splits is not None:
            frame = frame[frame[SPLIT].isin(list(splits))]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


class RunningStats:
    """Streaming mean/std of feature columns over the training splits (float64 sums)."""

    def __init__(self, d: int):
        self.n = 0
        self.total = np.zeros(d)
        self.total_sq = np.zeros(d)

    def update(self, frame: pd.DataFrame, features: list[str]) -> None:
        rows = frame[frame[SPLIT].isin(TRAINING_SPLITS)]
        values = rows[features].to_numpy(dtype=np.float64)
        self.n += len(values)
        self.total += values.sum(axis=0)
        self.total_sq += (values**2).sum(axis=0)

    def result(self) -> tuple[list[float], list[float]]:
        if self.n == 0:
            raise ContractError("no rows in the training splits (pretrain/train): cannot compute z-score stats")
        mean = self.total / self.n
        var = np.maximum(self.total_sq / self.n - mean**2, 0.0)
        std = np.where(np.sqrt(var) > 1e-12, np.sqrt(var), 1.0)
        return mean.tolist(), std.tolist()
