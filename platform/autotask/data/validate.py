"""Check a dataset against the contract; every message names the file, the column and offending rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from autotask.data.contract import (
    LABEL,
    QUERY_ID,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SPLIT,
    ContractError,
)
from autotask.data.file_checks import check_frame, check_language, check_queries, check_row_ids
from autotask.data.io import RunningStats, column_names, dataset_files, read_table
from autotask.data.manifest import Manifest, load_manifest
from autotask.location import Location

REQUIRED = (SCENARIO, LABEL, SPLIT)
STATS_TOLERANCE = 1e-3
EARLY_STOPPING_SPLIT = "valid"


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
        if not path.exists():
            raise ContractError(f"{path}: no such dataset file or folder")
        manifest = load_manifest(path)
        files = dataset_files(path)
    except ContractError as exc:
        return ValidationReport(str(dataset), None, errors=exc.messages)
    report = ValidationReport(path, manifest, files)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    query_split: dict = {}
    stats = RunningStats(manifest.d)
    id_ranges: list[tuple[Location, int, int]] = []
    for file in files:
        try:
            frame = _read_checked_columns(file, manifest, report.errors)
        except ContractError as exc:  # a truncated or corrupt file: named, the other files still checked
            report.errors += exc.messages
            continue
        if frame is None:
            continue
        file_errors = check_frame(file, frame, manifest) + check_language(file, manifest)
        file_errors += check_row_ids(file, frame, id_ranges)
        report.errors += file_errors
        if file_errors:
            continue
        check_queries(file, frame, query_split, report.errors)
        stats.update(frame, manifest.features)
        _count(frame, counts)
    report.summary = _summary_frame(counts)
    if not report.errors:
        report.errors += _check_coverage(path, manifest, report.summary)
        report.errors += _check_early_stopping_split(path, report.summary)
        report.errors += _check_stats(path, manifest, stats)
    return report


def _read_checked_columns(file: Location, manifest: Manifest, errors: list[str]) -> pd.DataFrame | None:
    names = column_names(file)
    missing = [c for c in REQUIRED if c not in names]
    missing_features = [c for c in manifest.features if c not in names]
    missing_language = [c for c in (*manifest.texts, *manifest.embedding_columns) if c not in names]
    for column in missing:
        errors.append(f"{file}: missing required column '{column}'")
    for column in missing_features:
        errors.append(f"{file}: missing column '{column}' (the manifest lists it as a feature)")
    for column in missing_language:
        errors.append(f"{file}: missing column '{column}' (the manifest lists it as a text or embedding column)")
    if missing or missing_features or missing_language:
        return None
    optional = [c for c in (SOFT_LABEL, QUERY_ID, ROW_ID) if c in names]
    return read_table(file, columns=[*REQUIRED, *manifest.features, *optional])


def layout_problems(frame: pd.DataFrame, scenarios: list[str], unseen: list[str], where) -> list[str]:
    """The coverage checks a built dataset must pass (test rows per scenario, training rows per seen scenario, both
    classes in `valid`), run on a builder's scenario, split and label columns before its expensive work."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    _count(frame, counts)
    summary = _summary_frame(counts)
    layout = SimpleNamespace(scenarios=scenarios, all_scenarios=[*scenarios, *unseen])
    return _check_coverage(where, layout, summary) + _check_early_stopping_split(where, summary)


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


def _check_early_stopping_split(path: Location, summary: pd.DataFrame) -> list[str]:
    """Early stopping needs a `valid` split whose hard labels hold both classes."""
    name = EARLY_STOPPING_SPLIT
    rows = summary[summary["split"] == name]
    if not len(rows) or rows["rows"].sum() == 0:
        return [
            f"{path}: column '{SPLIT}' has no rows in split '{name}': the split is needed for early stopping "
            f"(give some rows split '{name}')"
        ]
    labelled, positives = int(rows["labelled"].sum()), int(rows["positives"].sum())
    if labelled == 0 or positives in (0, labelled):
        return [
            f"{path}: column '{LABEL}': split '{name}' needs both classes for early stopping, but its "
            f"{labelled:,} labelled row(s) have {positives:,} positive(s) and {labelled - positives:,} negative(s)"
        ]
    return []


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
