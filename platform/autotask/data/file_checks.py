"""The contract's checks of one dataset file (data/validate.py runs them on every file, then the dataset-wide
checks): features, splits, scenarios, labels, onboarding rows, language columns, row ids, queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autotask.data.contract import (
    FLOAT32_MAX,
    LABEL,
    ONBOARD,
    QUERY_ID,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SOFT_LABEL_POOL,
    SPLIT,
    SPLITS,
    TRAINING_SPLITS,
    format_rows,
)
from autotask.data.io import parquet_read, read_table
from autotask.data.manifest import Manifest
from autotask.location import Location


def check_frame(file: Location, frame: pd.DataFrame, manifest: Manifest) -> list[str]:
    errors = []
    for column in manifest.features:
        errors += _check_feature(file, frame[column], column)
    split = frame[SPLIT]
    bad_split = ~split.isin(SPLITS)
    if bad_split.any():
        values = sorted(set(map(str, split[bad_split].unique())))[:5]
        errors.append(
            f"{file}: column '{SPLIT}' has values {values} outside {list(SPLITS)} at "
            f"{format_rows(np.flatnonzero(bad_split))}"
        )
    scenario = frame[SCENARIO]
    unknown = ~scenario.isin(manifest.all_scenarios)
    if unknown.any():
        names = sorted(set(map(str, scenario[unknown].unique())))[:5]
        errors.append(
            f"{file}: column '{SCENARIO}' has unknown scenario(s) {names} (not in the manifest) at "
            f"{format_rows(np.flatnonzero(unknown))}"
        )
    leaked = scenario.isin(manifest.unseen) & split.isin(TRAINING_SPLITS)
    if leaked.any():
        names = sorted(set(scenario[leaked]))
        errors.append(
            f"{file}: column '{SCENARIO}': unseen scenario(s) {names} in a training split "
            f"({'/'.join(TRAINING_SPLITS)}) at {format_rows(np.flatnonzero(leaked))}"
        )
    errors += _check_labels(file, frame)
    errors += _check_onboarding(file, frame, manifest)
    return errors


def _check_onboarding(file: Location, frame: pd.DataFrame, manifest: Manifest) -> list[str]:
    """The onboarding split holds unlabelled rows of unseen scenarios only: no label, no soft label."""
    onboard = (frame[SPLIT] == ONBOARD).to_numpy()
    if not onboard.any():
        return []
    errors = []
    labelled = onboard & frame[LABEL].notna().to_numpy()
    if SOFT_LABEL in frame.columns:
        labelled |= onboard & frame[SOFT_LABEL].notna().to_numpy()
    if labelled.any():
        errors.append(f"{file}: columns '{LABEL}'/'{SOFT_LABEL}' must be null in split '{ONBOARD}' (an unlabelled "
                      f"sample for onboarding an unseen scenario), but hold values at "
                      f"{format_rows(np.flatnonzero(labelled))}")
    seen = onboard & frame[SCENARIO].isin(manifest.scenarios).to_numpy()
    if seen.any():
        names = sorted(set(frame[SCENARIO][seen]))[:5]
        errors.append(f"{file}: column '{SCENARIO}': split '{ONBOARD}' is for unseen scenarios, but holds seen "
                      f"scenario(s) {names} at {format_rows(np.flatnonzero(seen))}")
    return errors


def _check_feature(file: Location, values: pd.Series, column: str) -> list[str]:
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        coerced = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_bool_dtype(values) else values
        bad = np.flatnonzero(coerced.isna().to_numpy() & values.notna().to_numpy())
        where = f" at {format_rows(bad)}" if len(bad) else ""
        examples = sorted({str(v) for v in values.iloc[bad[:3]]}) if len(bad) else []
        values_note = f", values such as {examples}" if examples else ""
        return [f"{file}: feature column '{column}' is not numeric (dtype {values.dtype}{values_note}){where}"]
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(array)
    if bad.any():
        return [f"{file}: feature column '{column}' has NaN/inf/null at {format_rows(np.flatnonzero(bad))}"]
    if array.dtype != np.float32 and len(array):
        too_large = np.abs(array) > FLOAT32_MAX  # would turn to inf in the float32 the models read
        if too_large.any():
            return [
                f"{file}: feature column '{column}' has values beyond the float32 range (+-{FLOAT32_MAX:.3g}) at "
                f"{format_rows(np.flatnonzero(too_large))}"
            ]
    return []


def check_language(file: Location, manifest: Manifest) -> list[str]:
    """Text columns hold strings; every embedding is a list of exactly `width` finite floats."""
    columns = [*manifest.texts, *manifest.embedding_columns]
    if not columns:
        return []
    table = parquet_read(file, lambda: pq.read_table(file.path, columns=columns, filesystem=file.filesystem))
    errors = []
    for name in manifest.texts:
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            errors.append(f"{file}: text column '{name}' must hold strings, not {column.type}")
        elif column.null_count:
            rows = np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))
            errors.append(f"{file}: text column '{name}' is null at {format_rows(rows)}")
    for name in manifest.embedding_columns:
        errors += _check_embedding(file, name, table.column(name), manifest.embedding_width)
    return errors


def _check_embedding(file: Location, name: str, column: pa.ChunkedArray, width: int) -> list[str]:
    if not (pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type) or
            pa.types.is_large_list(column.type)) or not pa.types.is_floating(column.type.value_type):
        return [f"{file}: embedding column '{name}' must hold lists of floats, not {column.type}"]
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(np.nan_to_num(lengths.astype(np.float64), nan=-1) != width)
    if len(wrong):
        found = sorted({int(v) if v == v else "null" for v in lengths[wrong[:3]]}, key=str)
        return [f"{file}: embedding column '{name}' must hold {width} floats per row (the manifest's width), found "
                f"{found} at {format_rows(wrong)}"]
    values = pc.list_flatten(column).to_numpy().reshape(-1, width)
    bad = np.flatnonzero(~np.isfinite(values.astype(np.float32)).all(axis=1))
    return [f"{file}: embedding column '{name}' has NaN/inf at {format_rows(bad)}"] if len(bad) else []


def check_row_ids(file: Location, frame: pd.DataFrame, ranges: list[tuple[Location, int, int]]) -> list[str]:
    """`row_id` (when present) is an integer column whose values are unique across every file of the dataset."""
    if ROW_ID not in frame.columns:
        return []
    ids = frame[ROW_ID]
    if not pd.api.types.is_integer_dtype(ids) or pd.api.types.is_bool_dtype(ids):
        nulls = np.flatnonzero(ids.isna().to_numpy())
        where = f"; null at {format_rows(nulls)}" if len(nulls) else ""
        return [f"{file}: column '{ROW_ID}' must have an integer dtype, not {ids.dtype}{where}"]
    values = ids.to_numpy(dtype=np.int64)
    if not len(values):
        return []
    errors = []
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():
        duplicated = np.unique(ordered[1:][repeated])
        rows = np.flatnonzero(np.isin(values, duplicated))
        examples = [int(v) for v in duplicated[:3]]
        errors.append(
            f"{file}: column '{ROW_ID}' has {len(duplicated)} duplicate value(s) (e.g. {examples}) at "
            f"{format_rows(rows)}"
        )
    low, high = int(ordered[0]), int(ordered[-1])
    for other, other_low, other_high in ranges:
        if other_high < low or high < other_low:
            continue  # disjoint ranges (the usual case: no file is read again)
        theirs = read_table(other, columns=[ROW_ID])[ROW_ID].to_numpy(dtype=np.int64)
        shared = np.isin(values, theirs)
        if shared.any():
            examples = [int(v) for v in np.unique(values[shared])[:3]]
            errors.append(
                f"{file}: column '{ROW_ID}' repeats values of {other} (e.g. {examples}) at "
                f"{format_rows(np.flatnonzero(shared))}"
            )
    ranges.append((file, low, high))
    return errors


def _check_labels(file: Location, frame: pd.DataFrame) -> list[str]:
    errors = []
    label = pd.to_numeric(frame[LABEL], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    raw_null = frame[LABEL].isna().to_numpy()
    not_binary = ~np.isnan(label) & ~np.isin(label, (0.0, 1.0))
    non_numeric = np.isnan(label) & ~raw_null
    bad = not_binary | non_numeric
    if bad.any():
        errors.append(f"{file}: column '{LABEL}' has values outside {{0, 1}} at {format_rows(np.flatnonzero(bad))}")
    in_pool = (frame[SPLIT] == SOFT_LABEL_POOL).to_numpy()
    null_outside = raw_null & ~in_pool & (frame[SPLIT] != ONBOARD).to_numpy()
    if null_outside.any():
        errors.append(
            f"{file}: column '{LABEL}' is null outside the '{SOFT_LABEL_POOL}' soft-label pool at "
            f"{format_rows(np.flatnonzero(null_outside))}"
        )
    if SOFT_LABEL in frame.columns:
        soft = pd.to_numeric(frame[SOFT_LABEL], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        soft_null = frame[SOFT_LABEL].isna().to_numpy()
        out = (~soft_null & ~((soft >= 0) & (soft <= 1))) | (np.isinf(soft))
        if out.any():
            errors.append(
                f"{file}: column '{SOFT_LABEL}' has values outside [0, 1] at {format_rows(np.flatnonzero(out))}"
            )
        unlabeled = raw_null & soft_null & in_pool
    else:
        unlabeled = raw_null & in_pool
    if unlabeled.any():
        errors.append(
            f"{file}: rows with neither '{LABEL}' nor '{SOFT_LABEL}' at {format_rows(np.flatnonzero(unlabeled))}"
        )
    return errors


def check_queries(file: Location, frame: pd.DataFrame, seen: dict, errors: list[str]) -> None:
    """A query's rows never cross splits, within or across files."""
    if QUERY_ID not in frame.columns:
        return
    splits_per_query = frame.groupby(QUERY_ID, sort=False)[SPLIT].nunique()
    crossing = set(splits_per_query[splits_per_query > 1].index)
    first = frame.drop_duplicates(QUERY_ID)
    for query, split in zip(first[QUERY_ID], first[SPLIT], strict=True):
        previous = seen.setdefault(query, (split, file))
        if previous[0] != split:
            crossing.add(query)
    if crossing:
        rows = np.flatnonzero(frame[QUERY_ID].isin(crossing))
        examples = [str(q) for q in list(crossing)[:3]]
        errors.append(
            f"{file}: column '{QUERY_ID}': {len(crossing)} query id(s) appear in more than one split "
            f"(e.g. {examples}) at {format_rows(rows)}"
        )
