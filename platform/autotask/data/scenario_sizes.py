"""Scenario sizes checked before a builder's expensive work (features, embeddings, writing): every derived scenario
against the split fractions and the labels, and `--min-scenario-rows N`, which folds scenarios below N rows into one
scenario, `other`."""

from __future__ import annotations

import pandas as pd

from autotask.data.contract import SCENARIO, SPLIT, TRAINING_SPLITS, ContractError
from autotask.data.validate import layout_problems

FOLDED = "other"  # the scenario small ones are folded into


def check_min_rows(minimum: int | None) -> None:
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1):
        raise ContractError(f"--min-scenario-rows {minimum}: a whole number of rows >= 1")


def fold_small(scenarios: pd.Series, minimum: int | None, keep=()) -> tuple[pd.Series, dict[str, int]]:
    """Scenarios with fewer than `minimum` rows (not those in `keep`: named unseen ones) renamed FOLDED; returns the
    new column and {folded scenario: its rows}."""
    if not minimum:
        return scenarios, {}
    sizes = scenarios.value_counts()
    small = {str(name): int(rows) for name, rows in sizes.items() if rows < minimum and name not in keep}
    if not small:
        return scenarios, {}
    return scenarios.where(~scenarios.isin(small), FOLDED), dict(sorted(small.items()))


def folded_note(folded: dict[str, int], minimum: int) -> str:
    listed = ", ".join(f"{name} ({rows} rows)" for name, rows in folded.items())
    return f"--min-scenario-rows {minimum}: folded {len(folded)} scenario(s) into '{FOLDED}': {listed}"


def seen_and_unseen(frame: pd.DataFrame, unseen: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Seen scenarios (sorted): those with rows in a training split; the rest are unseen (named ones first)."""
    seen = sorted(set(frame.loc[frame[SPLIT].isin(TRAINING_SPLITS), SCENARIO]) - set(unseen))
    return seen, [*unseen, *sorted(set(frame[SCENARIO]) - set(seen) - set(unseen))]


def check_layout(frame: pd.DataFrame, unseen: tuple[str, ...], where, scenarios_from: str) -> None:
    """Refuse (ContractError) scenario, split and label columns the built dataset would fail validation for, naming
    the small scenarios and the flag that folds them. `scenarios_from`: how the scenarios were derived."""
    seen, others = seen_and_unseen(frame, unseen)
    problems = layout_problems(frame, seen, others, where)
    if problems:
        sizes = frame[SCENARIO].value_counts().sort_values()
        smallest = ", ".join(f"{name} ({rows} rows)" for name, rows in sizes.head(5).items())
        problems.append(f"scenarios from {scenarios_from}; the smallest: {smallest}. With split fractions, a small "
                        f"scenario may miss a split: --min-scenario-rows N folds scenarios below N rows into "
                        f"'{FOLDED}' (checked before any feature is extracted)")
        raise ContractError(problems)
