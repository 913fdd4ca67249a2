"""The numbers of a report: per-run AUCs per scenario, their mean ± std over seeds, deltas to the baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import pandas as pd

from autotask.evaluation.bootstrap import DELTA_COLUMNS, MEAN_SEEN, bootstrap_deltas
from autotask.evaluation.metric_set import METRIC_NAMES, METRICS
from autotask.evaluation.metrics import scenario_metrics
from autotask.reporting.checks import check_comparable
from autotask.reporting.models import Model
from autotask.reporting.runs import RunDirError

SCALES = {metric.name: metric.scale for metric in METRICS}  # shown as AUC points (%)

MAX_RESAMPLES = 100_000  # beyond this the intervals no longer change, and the bootstrap would run for hours


@dataclass(frozen=True)
class ReportOptions:
    """What the report evaluates: the split, the bootstrap's resamples, seed and level, and whether runs scored
    on different rows may be compared on their shared rows (`allow_partial`, noted in the report)."""

    split: str = "test"
    resamples: int = 1000
    seed: int = 0
    level: float = 0.95
    allow_partial: bool = False

    def __post_init__(self):
        """RunDirError naming the CLI flag of a bad value."""
        if not isinstance(self.split, str) or not self.split:
            raise RunDirError(f"--split must name a split (valid, calib or test), got {self.split!r}")
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, Integral) or self.resamples < 1:
            raise RunDirError(f"--bootstrap must be a whole number of resamples >= 1, got {self.resamples!r}")
        if self.resamples > MAX_RESAMPLES:
            raise RunDirError(f"--bootstrap must be at most {MAX_RESAMPLES:,} resamples, got {self.resamples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or self.seed < 0:
            raise RunDirError(f"--seed must be a whole number >= 0, got {self.seed!r}")
        if not isinstance(self.level, Real) or not math.isfinite(self.level) or not 0 < self.level < 1:
            raise RunDirError(f"--level must be an interval level strictly between 0 and 1 (e.g. 0.95), "
                              f"got {self.level!r}")


@dataclass(frozen=True)
class Results:
    """Everything the renderers show. AUCs and deltas are in percent (AUC points)."""

    options: ReportOptions
    models: list[Model]
    baseline: Model
    scenarios: list[str]  # seen scenarios first (task id order), then unseen ones
    unseen: frozenset[str]
    per_run: pd.DataFrame  # model, run, seed, scenario, seen, metric, value
    summary: pd.DataFrame  # model, scenario, seen, metric, runs, mean, std
    deltas: pd.DataFrame  # model, baseline, scenario, seen, metric, delta, low, high, significant, n, ...
    warnings: list[str] = field(default_factory=list)  # shown above the tables (a partial comparison)


def scenario_order(models: list[Model], split: str) -> tuple[list[str], frozenset[str]]:
    """Seen scenarios in task-id order (the data's order), then unseen ones by first row_id."""
    frame = pd.concat([p for m in models for p in m.predictions(split)], ignore_index=True)
    key = frame["task_id"] if "task_id" in frame.columns else pd.Series(0, index=frame.index)
    first = (frame.assign(unseen=~frame["seen"].astype(bool), key=key)
             .groupby("scenario", observed=True)[["unseen", "key", "row_id"]].min()
             .sort_values(["unseen", "key", "row_id"]))
    return [str(s) for s in first.index], frozenset(str(s) for s in first.index[first["unseen"]])


def run_aucs(model: Model, split: str) -> pd.DataFrame:
    """Long frame of every run's per-scenario ROC/PR AUC (%) plus its mean over seen scenarios."""
    frames = []
    for run, predictions in zip(model.runs, model.predictions(split), strict=True):
        if predictions.empty:
            raise RunDirError(f"{run.path}: predictions.parquet has no rows of split {split!r}")
        metrics = scenario_metrics(predictions, model.score_col)
        seen = metrics[metrics["seen"]]
        mean = pd.DataFrame([{"scenario": MEAN_SEEN, "seen": True, **seen[list(METRIC_NAMES)].mean().to_dict()}])
        both = pd.concat([metrics, mean], ignore_index=True) if len(seen) else metrics
        long = both.melt(id_vars=["scenario", "seen"], value_vars=list(METRIC_NAMES), var_name="metric")
        long["value"] *= long["metric"].map(SCALES)
        frames.append(long.assign(model=model.label, run=str(run.path), seed=run.seed))
    return pd.concat(frames, ignore_index=True)


def summarize(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for a single run) over each model's runs."""
    grouped = per_run.groupby(["model", "scenario", "seen", "metric"], sort=False, observed=True)["value"]
    return grouped.agg(runs="count", mean="mean", std="std").reset_index()


def model_deltas(model: Model, baseline: Model, options: ReportOptions) -> pd.DataFrame:
    """Deltas (%) of one model to the baseline with paired bootstrap intervals."""
    deltas = bootstrap_deltas(model.predictions(options.split), baseline.predictions(options.split),
                              model.score_col, baseline.score_col, options.split, options.resamples,
                              options.seed, options.level)
    deltas[["delta", "low", "high"]] = deltas[["delta", "low", "high"]].mul(deltas["metric"].map(SCALES), axis=0)
    return deltas.assign(model=model.label, baseline=baseline.label)


def compute_results(models: list[Model], baseline: Model, options: ReportOptions | None = None) -> Results:
    """AUCs of every model and deltas of every non-baseline model to the baseline."""
    options = options or ReportOptions()
    warnings = check_comparable(models, baseline, options.split, options.allow_partial)
    scenarios, unseen = scenario_order(models, options.split)
    per_run = pd.concat([run_aucs(m, options.split) for m in models], ignore_index=True)
    others = [m for m in models if m is not baseline]
    columns = ["model", "baseline", *DELTA_COLUMNS]
    order = {s: i for i, s in enumerate([*scenarios, MEAN_SEEN])}
    frames = [model_deltas(m, baseline, options).sort_values("scenario", key=lambda c: c.map(order),
                                                             kind="stable") for m in others]
    deltas = pd.concat([pd.DataFrame(columns=columns), *frames], ignore_index=True)[columns]
    return Results(options, models, baseline, scenarios, unseen, per_run, summarize(per_run), deltas, warnings)


def lookup(frame: pd.DataFrame, model: str, scenario: str, metric: str) -> pd.Series | None:
    """The row of `frame` for (model, scenario, metric), or None."""
    rows = frame[(frame["model"] == model) & (frame["scenario"] == scenario) & (frame["metric"] == metric)]
    return None if rows.empty else rows.iloc[0]

