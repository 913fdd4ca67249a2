"""Bring a user's table of already-extracted features (CSV or Parquet) into the contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import (
    FEATURE_DTYPE,
    FLOAT32_MAX,
    LABEL,
    ORACLE_P,
    QUERY_ID,
    RESERVED,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SOFT_LABEL_POOL,
    SPLIT,
    SPLITS,
    TRAINING_SPLITS,
    ContractError,
    format_rows,
)
from autotask.data.io import RunningStats, read_input
from autotask.data.manifest import Manifest
from autotask.data.output import check_output, publish_frame
from autotask.data.scenario_sizes import check_layout, check_min_rows, fold_small, folded_note
from autotask.data.splits import assign_splits


@dataclass
class ImportSpec:
    input: Path
    scenario_col: str
    label_col: str
    soft_label_col: str | None = None
    features: list[str] | None = None  # None: every numeric column not otherwise used
    split_col: str | None = None
    group_col: str | None = None
    unseen: tuple[str, ...] = ()
    scenario_order: list[str] | None = None  # seen scenarios' id order; default: sorted
    encoding: str = "utf-8"
    seed: int = 0
    min_scenario_rows: int | None = None  # fold scenarios below this many rows into one, "other"


NUMERIC_SHARE = 0.5  # an unchosen text column is a (broken) feature when at least this share of its cells are numbers


def read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The input table; a missing, empty, header-only, undecodable or malformed file raises ContractError."""
    return read_input(path, encoding)


def _roles(spec: ImportSpec) -> dict[str, str]:
    """Input column -> the flag that claims it (a feature cannot be one of these)."""
    flags = {
        "--scenario-col": spec.scenario_col,
        "--label-col": spec.label_col,
        "--soft-label-col": spec.soft_label_col,
        "--split-col": spec.split_col,
        "--group-col": spec.group_col,
    }
    return {column: flag for flag, column in flags.items() if column}


def _chosen_features(raw: pd.DataFrame, spec: ImportSpec, reserved: set[str]) -> list[str]:
    """--features checked: no duplicates, no column another flag uses, no contract column name."""
    roles = _roles(spec)
    problems = []
    duplicates = sorted({f for f in spec.features if spec.features.count(f) > 1})
    if duplicates:
        problems.append(f"--features lists column(s) {duplicates} more than once")
    for name in dict.fromkeys(spec.features):
        if name in roles:
            problems.append(
                f"{spec.input}: column '{name}' is the {roles[name]} column; it cannot also be a feature (--features)"
            )
        elif name in reserved:
            problems.append(
                f"{spec.input}: column '{name}' has a name the contract reserves ({sorted(reserved)}); "
                f"it cannot be a feature (--features)"
            )
    if problems:
        raise ContractError(problems)
    return list(spec.features)


def _looks_numeric(values: pd.Series) -> bool:
    """A text column most of whose non-empty cells are numbers: a numeric column with a few bad cells."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values) or not len(present):
        return False
    return pd.to_numeric(present, errors="coerce").notna().mean() >= NUMERIC_SHARE


def to_contract_frame(raw: pd.DataFrame, spec: ImportSpec) -> tuple[pd.DataFrame, list[str]]:
    """Rename, select and split a user table; returns the contract frame and the feature names."""
    used = [c for c in (spec.scenario_col, spec.label_col, spec.soft_label_col, spec.split_col, spec.group_col) if c]
    missing = [c for c in dict.fromkeys([*used, *(spec.features or [])]) if c not in raw.columns]
    if missing:
        raise ContractError(f"{spec.input}: missing column(s) {missing} (columns: {list(raw.columns)})")
    features = _feature_columns(raw, spec, used)
    if not features:
        raise ContractError(f"{spec.input}: no numeric feature columns found")
    no_scenario = np.flatnonzero(raw[spec.scenario_col].isna().to_numpy())
    if len(no_scenario):
        raise ContractError(
            f"{spec.input}: scenario column '{spec.scenario_col}' is empty at {format_rows(no_scenario)}"
        )
    frame = pd.DataFrame({ROW_ID: np.arange(len(raw), dtype=np.int64), SCENARIO: raw[spec.scenario_col].astype(str)})
    problems = []
    for name in features:
        try:
            frame[name] = _numeric(raw[name], spec.input, name).astype(FEATURE_DTYPE)
        except ContractError as exc:
            problems += exc.messages
    if problems:
        raise ContractError(problems)
    frame[LABEL] = _label_values(raw[spec.label_col])
    if spec.soft_label_col:
        frame[SOFT_LABEL] = _label_values(raw[spec.soft_label_col])
    if spec.group_col:
        frame[QUERY_ID] = raw[spec.group_col]
    if ORACLE_P in raw.columns:
        frame[ORACLE_P] = raw[ORACLE_P]
    frame[SPLIT] = raw[spec.split_col].astype(str) if spec.split_col else _split_column(raw, frame, spec)
    return frame, features


def _feature_columns(raw: pd.DataFrame, spec: ImportSpec, used: list[str]) -> list[str]:
    """The chosen features; by default every other numeric column (a column that is numeric but for a few unparsable
    cells, "1,5", is a feature too, so those cells are refused by name instead of the whole column being left out)."""
    if spec.features:
        return _chosen_features(raw, spec, RESERVED)
    candidates = [c for c in raw.columns if c not in used and c not in RESERVED]
    return [c for c in candidates if pd.api.types.is_numeric_dtype(raw[c]) or _looks_numeric(raw[c])]


def _split_column(raw: pd.DataFrame, frame: pd.DataFrame, spec: ImportSpec) -> np.ndarray:
    """Splits by hashing the group (or row id); rows with only a teacher label form the soft-label pool: their groups
    (none touching an unseen scenario) go to `pretrain` whole, so no split but the pool holds a row without a hard
    label."""
    unseen_mask = frame[SCENARIO].isin(spec.unseen).to_numpy()
    groups = raw[spec.group_col] if spec.group_col else frame[ROW_ID]
    split = assign_splits(groups, unseen_mask, seed=spec.seed)
    if spec.soft_label_col:
        groups = pd.Series(np.asarray(groups))
        pooled = groups.isin(set(groups[frame[LABEL].isna().to_numpy()]))
        pooled &= ~groups.isin(set(groups[unseen_mask]))
        split = np.where(pooled.to_numpy(), SOFT_LABEL_POOL, split)
    return split


def _numeric(values: pd.Series, path: Path, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        examples = sorted({str(v) for v in values.iloc[rows[:3]]})
        raise ContractError(
            f"{path}: feature column '{name}' is not numeric (values such as {examples}) at {format_rows(rows)}"
        )
    array = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        too_large = np.isfinite(array) & (np.abs(array) > FLOAT32_MAX)
    if too_large.any():
        rows = np.flatnonzero(too_large)
        examples = sorted({str(v) for v in values.iloc[rows[:3]]})
        raise ContractError(
            f"{path}: feature column '{name}' has values beyond the float32 range (+-{FLOAT32_MAX:.3g}; "
            f"values such as {examples}) at {format_rows(rows)}"
        )
    return converted


def _label_values(values: pd.Series) -> pd.Series:
    """Numbers when every non-empty value is one; otherwise as given, for validation to point at."""
    converted = pd.to_numeric(values, errors="coerce")
    return values if (converted.isna() & values.notna()).any() else converted


def build_manifest(frame: pd.DataFrame, features: list[str], spec: ImportSpec, source: dict) -> Manifest:
    unknown_unseen = [s for s in spec.unseen if s not in set(frame[SCENARIO])]
    if unknown_unseen:
        raise ContractError(
            f"{spec.input}: column '{spec.scenario_col}' has no rows for unseen scenario(s) {unknown_unseen}"
        )
    in_training = set(frame.loc[frame[SPLIT].isin(TRAINING_SPLITS), SCENARIO])
    seen = sorted(in_training - set(spec.unseen))
    if spec.scenario_order:
        extra = sorted(set(seen) - set(spec.scenario_order))
        if extra:
            raise ContractError(f"--scenario-order misses seen scenario(s) {extra}")
        seen = [s for s in spec.scenario_order if s in set(seen)]
    others = sorted(set(frame[SCENARIO]) - set(seen) - set(spec.unseen))
    stats = RunningStats(len(features))
    stats.update(frame, features)
    mean, std = stats.result()
    return Manifest(
        features=features, scenarios=seen, unseen=[*spec.unseen, *others], mean=mean, std=std, source=source
    )


def plan_import(spec: ImportSpec, out: str | Path, overwrite: bool = False,
                notify=None) -> tuple[pd.DataFrame, Manifest]:
    """Everything checked before anything is written: `out`, the columns, and scenarios too small for the splits
    (cells of the wrong kind are left to validation, which names their rows). Returns (frame, manifest).
    `notify(text)`: told which scenarios --min-scenario-rows folded (default: printed)."""
    check_min_rows(spec.min_scenario_rows)
    check_output(out, overwrite)
    raw = read_table(spec.input, spec.encoding)
    frame, features = to_contract_frame(raw, spec)
    frame[SCENARIO], folded = fold_small(frame[SCENARIO], spec.min_scenario_rows, spec.unseen)
    if folded:
        (notify or print)(folded_note(folded, spec.min_scenario_rows))
    if pd.api.types.is_numeric_dtype(frame[LABEL]) and frame[SPLIT].isin(SPLITS).all():
        check_layout(frame, spec.unseen, spec.input, f"--scenario-col {spec.scenario_col}")
    source = {"kind": "import", "input": str(spec.input)}
    if spec.min_scenario_rows:
        source["min_scenario_rows"] = spec.min_scenario_rows
    return frame, build_manifest(frame, features, spec, source)


def import_table(spec: ImportSpec, out: str | Path, overwrite: bool = False, notify=None) -> Manifest:
    """Write the contract dataset to `out`, validated before it is published under that name.

    Raises ContractError (messages name the input file, its column and row numbers) when the table breaks the
    contract; nothing appears under `out` then.
    """
    frame, manifest = plan_import(spec, out, overwrite, notify)
    publish_frame(frame, manifest, Path(out), overwrite,
                  lambda m, part, staging: _in_input_terms(m, part, staging, spec))
    return manifest


def _in_input_terms(message: str, part: Path, staging: Path, spec: ImportSpec) -> str:
    """A validation message about the staged file, told in the input's names (rows are the input's rows)."""
    message = message.replace(str(part), str(spec.input)).replace(str(staging), str(spec.input))
    renamed = {
        SCENARIO: spec.scenario_col,
        LABEL: spec.label_col,
        SOFT_LABEL: spec.soft_label_col,
        SPLIT: spec.split_col,
        QUERY_ID: spec.group_col,
    }
    for column, original in renamed.items():
        if original and original != column:
            message = message.replace(f"'{column}'", f"'{column}' (input column '{original}')")
    return message
