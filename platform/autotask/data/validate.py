"""Check a dataset against the contract; every message names the file, the column and offending rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import (
    LABEL,
    QUERY_ID,
    SCENARIO,
    SOFT_LABEL,
    SOFT_LABEL_POOL,
    SPLIT,
    SPLITS,
    TRAINING_SPLITS,
    ContractError,
    format_rows,
)
from autotask.data.io import RunningStats, column_names, dataset_files, read_table
from autotask.data.manifest import Manifest, load_manifest
from autotask.location import Location

REQUIRED = (SCENARIO, LABEL, SPLIT)
STATS_TOLERANCE = 1e-3


@dataclass
class ValidationReport:
    """Outcome of `validate_dataset`: a per-scenario/split summary and any contract errors."""

    path: Location
    manifest: Manifest | None
    files: list[Location] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def n_rows(self) -> int:
        return int(self.summary["rows"].sum()) if len(self.summary) else 0

    def raise_if_invalid(self) -> ValidationReport:
        if self.errors:
            raise ContractError(self.errors)
        return self


def validate_dataset(dataset: str | Path) -> ValidationReport:
    """Validate every file of a dataset against its manifest; never raises for contract errors."""
    try:
        path = Location.of(dataset)
        manifest = load_manifest(path)
        files = dataset_files(path)
    except ContractError as exc:
        return ValidationReport(str(dataset), None, errors=exc.messages)
    report = ValidationReport(path, manifest, files)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    query_split: dict = {}
    stats = RunningStats(manifest.d)
    for file in files:
        frame = _read_checked_columns(file, manifest, report.errors)
        if frame is None:
            continue
        file_errors = _check_frame(file, frame, manifest)
        report.errors += file_errors
        if file_errors:
            continue
        _check_queries(file, frame, query_split, report.errors)
        stats.update(frame, manifest.features)
        _count(frame, counts)
    report.summary = _summary_frame(counts)
    if not report.errors:
        report.errors += _check_coverage(path, manifest, report.summary)
        report.errors += _check_stats(path, manifest, stats)
    return report


def _read_checked_columns(file: Location, manifest: Manifest, errors: list[str]) -> pd.DataFrame | None:
    names = column_names(file)
    missing = [c for c in REQUIRED if c not in names]
    missing_features = [c for c in manifest.features if c not in names]
    for column in missing:
        errors.append(f"{file}: missing required column '{column}'")
    for column in missing_features:
        errors.append(f"{file}: missing column '{column}' (the manifest lists it as a feature)")
    if missing or missing_features:
        return None
    optional = [c for c in (SOFT_LABEL, QUERY_ID) if c in names]
    return read_table(file, columns=[*REQUIRED, *manifest.features, *optional])


def _check_frame(file: Location, frame: pd.DataFrame, manifest: Manifest) -> list[str]:
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
    return []


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
    null_outside = raw_null & ~in_pool
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


def _check_queries(file: Location, frame: pd.DataFrame, seen: dict, errors: list[str]) -> None:
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


def _count(frame: pd.DataFrame, counts: dict) -> None:
    label = pd.to_numeric(frame[LABEL], errors="coerce")
    grouped = frame.assign(_pos=label.fillna(0), _lab=label.notna()).groupby([SCENARIO, SPLIT])
    for (scenario, split), group in grouped:
        entry = counts[(scenario, split)]
        entry[0] += len(group)
        entry[1] += int(group["_pos"].sum())
        entry[2] += int(group["_lab"].sum())


def _summary_frame(counts: dict) -> pd.DataFrame:
    rows = [
        {"scenario": s, "split": sp, "rows": n, "positives": p, "labelled": lab}
        for (s, sp), (n, p, lab) in counts.items()
    ]
    return pd.DataFrame(rows, columns=["scenario", "split", "rows", "positives", "labelled"])


def _check_coverage(path: Location, manifest: Manifest, summary: pd.DataFrame) -> list[str]:
    """Every scenario has test rows; every seen scenario has labelled train rows."""
    errors = []
    rows = summary.pivot_table(index="scenario", columns="split", values="labelled", aggfunc="sum", fill_value=0)
    for scenario in manifest.all_scenarios:
        present = rows.loc[scenario] if scenario in rows.index else pd.Series(dtype=float)
        if present.sum() == 0 and scenario not in rows.index:
            errors.append(f"{path}: column '{SCENARIO}': scenario '{scenario}' is in the manifest but has no rows")
            continue
        if present.get("test", 0) == 0:
            errors.append(f"{path}: column '{SCENARIO}': scenario '{scenario}' has no labelled rows in split 'test'")
        if scenario in manifest.scenarios and present.get("train", 0) + present.get("pretrain", 0) == 0:
            errors.append(f"{path}: column '{SCENARIO}': seen scenario '{scenario}' has no rows in a training split")
    return errors


def _check_stats(path: Location, manifest: Manifest, stats: RunningStats) -> list[str]:
    """The manifest's z-score statistics must be those of the training splits."""
    mean, std = stats.result()
    errors = []
    for i, name in enumerate(manifest.features):
        scale = max(abs(std[i]), 1e-6)
        if abs(manifest.mean[i] - mean[i]) / scale > STATS_TOLERANCE or abs(manifest.std[i] / std[i] - 1) > 1e-2:
            errors.append(
                f"{path}/manifest.json: z-score stats of feature '{name}' (mean {manifest.mean[i]:.4g}, "
                f"std {manifest.std[i]:.4g}) differ from the training splits' ({mean[i]:.4g}, {std[i]:.4g})"
            )
    return errors
