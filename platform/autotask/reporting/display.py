"""The report tables as rows of text cells, shared by the markdown, HTML and console renderers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.evaluation.metric_set import METRICS
from autotask.reporting.tables import Results, lookup

PANELS = {metric.name: metric.title for metric in METRICS}
UNSEEN_MARK = "†"
SIGNIFICANT_MARK = "*"


@dataclass(frozen=True)
class Panel:
    """One panel (ROC or PR): a header and rows of (kind, cells); kind is baseline, model or delta."""

    metric: str
    title: str
    header: list[str]
    rows: list[tuple[str, list[str]]]


def scenario_header(results: Results) -> list[str]:
    """Scenario column names, unseen ones marked, then the mean over seen scenarios."""
    return [f"{s}{UNSEEN_MARK}" if s in results.unseen else s for s in results.scenarios] + [MEAN_SEEN]


def value_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["mean"]):
        return "–"
    return f"{row['mean']:.2f}" if row["runs"] < 2 else f"{row['mean']:.2f} ± {row['std']:.2f}"


def delta_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["delta"]):
        return "–"
    mark = SIGNIFICANT_MARK if row["significant"] else ""
    return f"{row['delta']:+.2f}{mark} [{row['low']:+.2f}, {row['high']:+.2f}]"


def panel(results: Results, metric: str) -> Panel:
    """Model rows (baseline first) then one delta row per non-baseline model."""
    columns = [*results.scenarios, MEAN_SEEN]

    def cells(frame: pd.DataFrame, label: str, fmt) -> list[str]:
        return [fmt(lookup(frame, label, scenario, metric)) for scenario in columns]

    rows = [("baseline" if m is results.baseline else "model",
             [_with_runs(m.label, len(m.runs)), *cells(results.summary, m.label, value_cell)])
            for m in results.models]
    rows += [("delta", [f"Δ {m.label}", *cells(results.deltas, m.label, delta_cell)])
             for m in results.models if m is not results.baseline]
    return Panel(metric, PANELS[metric], ["model", *scenario_header(results)], rows)


def panels(results: Results) -> list[Panel]:
    return [panel(results, metric) for metric in PANELS]


def _with_runs(label: str, runs: int) -> str:
    return label if runs < 2 else f"{label} (n={runs})"


def notes(results: Results) -> list[str]:
    """Footnotes explaining the marks, the split and the interval."""
    o = results.options
    lines = [f"Split: {o.split}. Baseline: {results.baseline.label} (column {results.baseline.score_col!r})."]
    if results.unseen:
        lines.append(f"{UNSEEN_MARK} unseen scenario (task id 0: never trained on); "
                     "not in the mean over seen scenarios.")
    protocols = sorted({run.protocol for m in (results.baseline, *results.models) for run in m.runs})
    lines.append("Scoring protocol (model selection, calibration and test alike): " + "; ".join(protocols) + ".")
    if any(len(m.runs) > 1 for m in results.models):
        lines.append("a ± b: mean and sample standard deviation over seeds (n runs).")
    lines.append(f"Δ: model − baseline in AUC points, {100 * o.level:.0f}% paired bootstrap interval "
                 f"({o.resamples} resamples, seed {o.seed}; queries resampled when the predictions carry "
                 f"query_id, rows otherwise; seeds of a model averaged); {SIGNIFICANT_MARK} the interval "
                 "excludes 0.")
    return lines
