"""Read a table of (query, offer, graded label) pairs and check it, naming offending rows."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import ContractError, format_rows
from autotask.data.io import read_input

QUERY, OFFER, GRADE, GROUP, SCENARIO_RAW = "query", "offer", "grade", "group", "scenario"


@dataclass(frozen=True)
class LabelScale:
    """The graded label's range on its original scale, e.g. 1:3 for Home Depot."""

    low: float = 0.0
    high: float = 1.0

    @classmethod
    def parse(cls, text: str) -> LabelScale:
        try:
            low, high = (float(v) for v in text.split(":"))
        except ValueError as exc:
            raise ContractError(f"--label-scale {text!r}: expected MIN:MAX, e.g. 1:3") from exc
        if not high > low:
            raise ContractError(f"--label-scale {text!r}: MAX must be greater than MIN")
        return cls(low, high)

    def rescale(self, grade: np.ndarray) -> np.ndarray:
        return (grade - self.low) / (self.high - self.low)


def read_raw(path: Path, encoding: str = "utf-8", limit: int | None = None) -> pd.DataFrame:
    """CSV (also zipped) or Parquet; `limit` keeps the first rows. A missing, empty, header-only, undecodable or
    malformed file raises ContractError naming it."""
    return read_input(path, encoding, limit)


def clean_text(values: pd.Series) -> pd.Series:
    """Strings with HTML entities decoded ('&#39;' -> "'") and whitespace collapsed; NaN -> ''."""
    text = values.fillna("").astype(str).map(html.unescape)
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def pairs_frame(raw: pd.DataFrame, origin: Path, columns: dict[str, str | None], scale: LabelScale) -> pd.DataFrame:
    """Columns renamed to query/offer/grade[/group/scenario], texts cleaned, every rule checked."""
    wanted = {role: col for role, col in columns.items() if col}
    missing = [col for col in wanted.values() if col not in raw.columns]
    if missing:
        raise ContractError(f"{origin}: missing column(s) {missing} (columns: {list(raw.columns)})")
    frame = pd.DataFrame({role: raw[col].to_numpy() for role, col in wanted.items()})
    frame[QUERY], frame[OFFER] = clean_text(frame[QUERY]), clean_text(frame[OFFER])
    errors = [_empty(frame, role, wanted[role], origin) for role in (QUERY, OFFER)]
    for role in (GROUP, SCENARIO_RAW):  # a row without its group or scenario cannot be split or assigned
        if role in frame:
            errors.append(_blank(frame[role], wanted[role], origin))
    errors.append(_not_numeric(frame[GRADE], wanted[GRADE], origin))
    frame[GRADE] = pd.to_numeric(frame[GRADE], errors="coerce")
    errors.append(_out_of_scale(frame[GRADE], wanted[GRADE], origin, scale))
    errors = [e for e in errors if e]
    if errors:
        raise ContractError(errors)
    if GROUP not in frame:
        frame[GROUP] = frame[QUERY]
    return frame


def _empty(frame: pd.DataFrame, role: str, column: str, origin: Path) -> str | None:
    rows = np.flatnonzero(frame[role].eq("").to_numpy())
    return f"{origin}: column '{column}' has empty text at {format_rows(rows)}" if len(rows) else None


def _blank(values: pd.Series, column: str, origin: Path) -> str | None:
    rows = np.flatnonzero((values.isna() | values.astype(str).str.strip().eq("")).to_numpy())
    return f"{origin}: column '{column}' is empty at {format_rows(rows)}" if len(rows) else None


def _not_numeric(grade: pd.Series, column: str, origin: Path) -> str | None:
    """Empty or unparsable grades ("2,5"): named apart from numbers outside the scale."""
    bad = pd.to_numeric(grade, errors="coerce").isna().to_numpy()
    if not bad.any():
        return None
    rows = np.flatnonzero(bad)
    examples = sorted({"" if pd.isna(v) else str(v) for v in grade.iloc[rows[:3]]})
    return (
        f"{origin}: column '{column}' (the graded label) is empty or not a number (values such as {examples}) "
        f"at {format_rows(rows)}"
    )


def _out_of_scale(grade: pd.Series, column: str, origin: Path, scale: LabelScale) -> str | None:
    values = grade.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isnan(values) & ~((values >= scale.low) & (values <= scale.high))
    if not bad.any():
        return None
    return (
        f"{origin}: column '{column}' has values outside the label scale [{scale.low:g}, {scale.high:g}] "
        f"(--label-scale) at {format_rows(np.flatnonzero(bad))}"
    )
