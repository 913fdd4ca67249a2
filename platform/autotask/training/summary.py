"""Rich tables of a run's (or several runs') per-scenario test AUCs."""

from __future__ import annotations

import pandas as pd
from rich.table import Table


def side_by_side(metrics: dict[str, pd.DataFrame], split: str = "test", score_col: str = "score") -> Table:
    """Scenarios as rows, one ROC/PR column pair per named run (unseen scenarios marked)."""
    table = Table(title=f"{split} ROC AUC / PR AUC (%), column '{score_col}'")
    table.add_column("scenario")
    for name in metrics:
        table.add_column(f"{name}\nROC / PR", justify="right")
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
    return f"{100 * row.roc_auc:.1f} / {100 * row.pr_auc:.1f}"


def _mean_seen(frame: pd.DataFrame) -> str:
    seen = frame[frame["seen"]]
    return f"{100 * seen.roc_auc.mean():.1f} / {100 * seen.pr_auc.mean():.1f}"
