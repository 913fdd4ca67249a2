"""Finding and reading a contract dataset's Parquet files, on local disk or any pyarrow filesystem."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autotask.data.contract import ROW_ID, SPLIT, TRAINING_SPLITS, ContractError, format_rows
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


def parquet_read(file: Location, read: Callable):
    """Run a pyarrow read; a truncated or corrupt file becomes a ContractError naming it."""
    try:
        return read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ContractError(f"{file}: not a readable Parquet file (truncated or corrupt?): {exc}") from exc


def column_names(file: Location) -> list[str]:
    return parquet_read(file, lambda: pq.read_schema(file.path, filesystem=file.filesystem).names)


def read_table(file: Location, columns: list[str] | None = None) -> pd.DataFrame:
    return parquet_read(file, lambda: pq.read_table(file.path, columns=columns, filesystem=file.filesystem).to_pandas())


def row_count(file: Location) -> int:
    return parquet_read(file, lambda: pq.read_metadata(file.path, filesystem=file.filesystem).num_rows)


def vector_matrix(values, width: int) -> np.ndarray:
    """[rows, width] float32 from a column of fixed-size float lists: a pyarrow array or a pandas column (Arrow-backed,
    as Ray Data hands it over, or of numpy arrays, as pandas reads it)."""
    if isinstance(values, pd.Series):
        arrow_backed = isinstance(values.dtype, pd.ArrowDtype)
        values = values.array.__arrow_array__() if arrow_backed else pa.array(values.to_list(), pa.list_(pa.float32()))
    flat = pc.list_flatten(values)
    return flat.to_numpy().astype(np.float32, copy=False).reshape(-1, width)


PARQUET_SUFFIXES = (".parquet", ".pq")


def check_encoding(encoding: str, flag: str = "--encoding") -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise ContractError(f"{flag} {encoding!r}: unknown text encoding (e.g. utf-8, latin-1, cp1252)") from exc


def read_input(path: Path, encoding: str = "utf-8", limit: int | None = None) -> pd.DataFrame:
    """A user's input table (CSV, zipped CSV or Parquet), every reading failure a ContractError naming the file.

    Refused: a missing path, an unknown encoding, bytes that are not text in `encoding` (rows named), a file that
    is empty or holds only a header, a malformed CSV or Parquet file. `limit` keeps the first rows.
    """
    path = Path(path)
    if limit is not None and limit < 1:
        raise ContractError(f"--limit {limit}: must be at least 1")
    if not path.exists():
        raise ContractError(f"{path}: no such file")
    check_encoding(encoding)
    if path.suffix.lower() in PARQUET_SUFFIXES or path.is_dir():
        try:
            frame = pd.read_parquet(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ContractError(f"{path}: not a readable Parquet file or folder of Parquet files: {exc}") from exc
        frame = frame.head(limit) if limit else frame
    else:
        if path.stat().st_size == 0:
            raise ContractError(f"{path}: the file is empty (0 bytes): expected a CSV with a header and rows")
        try:
            frame = pd.read_csv(path, encoding=encoding, nrows=limit)
        except UnicodeDecodeError as exc:
            raise ContractError(_encoding_message(path, encoding, exc)) from exc
        except pd.errors.EmptyDataError as exc:
            raise ContractError(f"{path}: no columns (the file holds no header): expected a CSV with a header") from exc
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            raise ContractError(f"{path}: not a readable CSV file: {exc}") from exc
    if len(frame) == 0:
        raise ContractError(f"{path}: no data rows (only a header: {list(frame.columns)})")
    return frame


def _encoding_message(path: Path, encoding: str, exc: UnicodeDecodeError) -> str:
    """Name the data rows (0-based, the header is line 1) whose bytes are not text in `encoding`."""
    where = ""
    if path.suffix.lower() not in (".zip", ".gz", ".bz2", ".xz", ".zst", ".tar"):
        bad, offset, first = [], 0, None
        with open(path, "rb") as handle:
            for number, line in enumerate(handle):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError as err:
                    bad.append(number - 1)
                    first = first if first is not None else (offset + err.start, line[err.start : err.start + 1])
                offset += len(line)
        if bad and bad[0] >= 0:
            byte_offset, byte = first
            where = f" at {format_rows(bad)} (first: byte 0x{byte.hex()} at byte offset {byte_offset})"
        elif bad:
            where = " in the header line"
    return (
        f"{path}: not valid {encoding} text{where} ({exc.reason}); "
        f"pass --encoding with the file's encoding (e.g. --encoding latin-1)"
    )


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
