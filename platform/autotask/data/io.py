"""Finding, reading and writing a contract dataset's Parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from autotask.data.contract import ROW_ID, SPLIT, TRAINING_SPLITS, ContractError


def dataset_files(dataset: str | Path) -> list[Path]:
    """The dataset's Parquet files in a stable order (a single file, or every *.parquet under a folder)."""
    path = Path(dataset)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ContractError(f"{path}: no such dataset file or folder")
    files = sorted(
        p for p in path.rglob("*.parquet") if not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise ContractError(f"{path}: no Parquet files found")
    return files


def read_frame(dataset: str | Path, columns: list[str] | None = None, splits=None) -> pd.DataFrame:
    """Read a (small) dataset into pandas, with `row_id` derived from file order when absent."""
    frames, offset = [], 0
    for path in dataset_files(dataset):
        names = pq.read_schema(path).names
        extra = [ROW_ID] if splits is None else [ROW_ID, SPLIT]  # the split filter needs the split column
        wanted = None if columns is None else [c for c in dict.fromkeys([*columns, *extra]) if c in names]
        frame = pq.read_table(path, columns=wanted).to_pandas()
        if ROW_ID not in frame.columns:
            frame.insert(0, ROW_ID, np.arange(offset, offset + len(frame), dtype=np.int64))
        offset += pq.ParquetFile(path).metadata.num_rows
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
