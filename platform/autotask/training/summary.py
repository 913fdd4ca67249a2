"""Rich tables of a run's (or several runs') per-scenario test metrics (the metric set: ROC / PR AUC)."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from autotask.evaluation.metric_set import METRICS


def side_by_side(metrics: dict[str, pd.DataFrame], split: str = "test", score_col: str = "score") -> Table:
    """Scenarios as rows, one ROC/PR column pair per named run (unseen scenarios marked)."""
    table = Table(title=f"{split} {' / '.join(m.label for m in METRICS)} (%), column '{score_col}'")
    table.add_column("scenario")
    for name in metrics:
        table.add_column(f"{name}\n{' / '.join(m.label.split()[0] for m in METRICS)}", justify="right")
    frames = {
        name: m[(m["split"] == split) & (m.get("score_col", score_col) == score_col)].set_index("scenario")
        for name, m in metrics.items()
    }
    first = next(iter(frames.values()))
    order = list(first.sort_values("seen", ascending=False, kind="stable").index)
    for scenario in order:
        label = scenario if bool(first.loc[scenario, "seen"]) else f"{scenario} (unseen)"
        cells = [_cell(frames[name], scenario) for name in metrics]
        table.add_row(label, *cells)
    seen_means = [_mean_seen(frame) for frame in frames.values()]
    table.add_row("mean (seen)", *seen_means, style="bold")
    return table


def _cell(frame: pd.DataFrame, scenario: str) -> str:
    if scenario not in frame.index:
        return "-"
    row = frame.loc[scenario]
    return " / ".join(metric.shown(row[metric.name]) for metric in METRICS)


def _mean_seen(frame: pd.DataFrame) -> str:
    seen = frame[frame["seen"]]
    return " / ".join(metric.shown(seen[metric.name].mean()) for metric in METRICS)
