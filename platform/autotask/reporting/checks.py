"""What a report refuses before computing or writing anything: runs scored on different rows or datasets (unless
allowed, then noted), a split the runs lack, unusable score columns, and an --out that cannot take a report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autotask.preflight import nearest_existing, write_problem
from autotask.reporting.models import Model
from autotask.reporting.runs import Run, RunDirError

REPORT_MARKER = "report.md"  # a folder holding it is a report folder that --overwrite may replace


def report_runs(models: list[Model], baseline: Model) -> list[Run]:
    """Every run of the report once (by resolved path), the baseline's first."""
    runs: dict[Path, Run] = {}
    for model in (baseline, *models):
        for run in model.runs:
            runs.setdefault(run.path.resolve(), run)
    return list(runs.values())


def _split_rows(runs: list[Run], split: str) -> dict[Run, pd.DataFrame]:
    """Each run's rows of `split`; RunDirError for a run without any or with a row_id twice."""
    rows = {}
    for run in runs:
        frame = run.rows(split)
        if frame.empty:
            splits = ", ".join(sorted(map(str, run.predictions["split"].unique())))
            raise RunDirError(f"--split {split!r}: {run.path} has no rows of that split (its splits: {splits})")
        repeated = int(frame["row_id"].duplicated().sum())
        if repeated:
            raise RunDirError(f"{run.path}: predictions.parquet repeats {repeated} row_id(s) in split {split!r}")
        rows[run] = frame
    return rows


def _check_scores(models: list[Model], rows: dict[Run, pd.DataFrame], split: str) -> None:
    for model in models:
        for run in model.runs:
            missing = int(rows[run][model.score_col].isna().sum())
            if missing:
                raise RunDirError(f"{run.path}: column {model.score_col!r} has {missing} missing (NaN) scores "
                                  f"in split {split!r}")


def _check_labels(reference: Run, run: Run, rows: dict[Run, pd.DataFrame]) -> None:
    """RunDirError when two runs give a shared row_id different labels (not the same data at all)."""
    joined = rows[reference][["row_id", "label"]].merge(rows[run][["row_id", "label"]], on="row_id")
    differing = int((joined["label_x"] != joined["label_y"]).sum())
    if differing:
        raise RunDirError(f"{run.path} and {reference.path} disagree on the label of {differing} of their "
                          f"{len(joined)} shared row_ids: not the same dataset's rows")


def check_comparable(models: list[Model], baseline: Model, split: str, allow_partial: bool = False) -> list[str]:
    """Refuse runs that score different rows of `split` or come from different datasets; the report's warnings.

    Every run is compared with the baseline's first run: its config.json's `data` and its set of row_id in
    `split`. Without `allow_partial` a difference raises RunDirError naming each differing run (rows only in it,
    rows only in the reference); with it, the returned warnings say which runs differ and how many shared rows
    each model's deltas use.
    """
    runs = report_runs(models, baseline)
    rows = _split_rows(runs, split)
    _check_scores([baseline, *models], rows, split)
    reference = runs[0]
    ids = {run: set(frame["row_id"].tolist()) for run, frame in rows.items()}
    problems = []
    for run in runs[1:]:
        _check_labels(reference, run, rows)
        parts = []
        if not run.same_data(reference):
            parts.append(f"data {run.data!r}, not {reference.data!r}")
        if ids[run] != ids[reference]:
            parts.append(f"{len(ids[run])} rows of split {split!r}: {len(ids[run] - ids[reference])} only in it, "
                         f"{len(ids[reference] - ids[run])} only in the reference")
        if parts:
            problems.append(f"{run.path}: {'; '.join(parts)}")
    if not problems:
        return []
    head = (f"runs score different rows of split {split!r} or come from different datasets (compared with the "
            f"reference, the first baseline run {reference.path}: data {reference.data!r}, "
            f"{len(ids[reference])} rows)")
    if not allow_partial:
        raise RunDirError("\n  - ".join([f"{head}; their deltas would use only their shared rows. Give runs of "
                                         "one dataset and split, or pass --allow-partial to report them on "
                                         "their shared rows with a note:", *problems]))
    base_ids = set.intersection(*(ids[r] for r in baseline.runs))
    shared = [f"{m.label}: {len(set.intersection(base_ids, *(ids[r] for r in m.runs)))} rows"
              for m in models if m is not baseline]
    return [f"Partial comparison (--allow-partial): {head}: {' | '.join(problems)}.",
            "Each model's AUCs use its runs' own rows; its Δ and interval use only the rows shared by its runs "
            f"and the baseline's ({len(base_ids)} rows): {'; '.join(shared)}."]


def check_out(out: str | Path, overwrite: bool = False) -> None:
    """RunDirError unless a report folder can be published at `out` (checked before anything is computed)."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise RunDirError(f"--out {out}: an existing file, not a report folder")
        if not overwrite:
            raise RunDirError(f"--out {out} already exists (pass --overwrite to replace it)")
        if any(out.iterdir()) and not (out / REPORT_MARKER).is_file():
            raise RunDirError(f"--out {out}: an existing folder that is not a report (no {REPORT_MARKER}); "
                              "--overwrite replaces only a report folder")
    parent = nearest_existing(out.absolute().parent)
    if not parent.is_dir():
        raise RunDirError(f"--out {out}: {parent} is a file, not a folder")
    problem = write_problem(parent)
    if problem:
        raise RunDirError(f"--out {out}: cannot create it, {parent} is not writable ({problem})")
