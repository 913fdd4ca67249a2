"""Report figures as PNG bytes: per-scenario delta bars with interval error bars, ROC and PR curves."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.reporting.display import PANELS, scenario_header
from autotask.reporting.tables import Results

CURVES = {"roc": ("ROC", "false positive rate", "true positive rate"), "pr": ("PR", "recall", "precision")}


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def delta_figure(results: Results, metric: str) -> Figure:
    """Grouped bars of each model's delta to the baseline per scenario, with its interval as error bars."""
    labels = scenario_header(results)
    models = [m for m in results.models if m is not results.baseline]
    figure = Figure(figsize=(max(6.0, 0.9 * len(labels) * max(1, len(models)) ** 0.5), 3.6))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(models))
    x = np.arange(len(labels))
    for i, model in enumerate(models):
        rows = results.deltas[(results.deltas["model"] == model.label) & (results.deltas["metric"] == metric)]
        rows = rows.set_index("scenario").reindex([*results.scenarios, MEAN_SEEN])
        delta, low, high = (rows[c].to_numpy(dtype=float) for c in ("delta", "low", "high"))
        offset = (i - (len(models) - 1) / 2) * width
        axes.bar(x + offset, delta, width, yerr=[delta - low, high - delta], capsize=3, label=model.label)
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(x, labels, rotation=30, ha="right")
    axes.set_ylabel(f"Δ {PANELS[metric].replace(' (%)', '')} (points)")
    axes.set_title(f"{PANELS[metric].replace(' (%)', '')}: model − {results.baseline.label}, "
                   f"{100 * results.options.level:.0f}% paired bootstrap interval")
    if models:
        axes.legend(fontsize="small")
    return figure


def curve_figure(results: Results, kind: str) -> Figure:
    """One panel per scenario with each model's ROC or PR curve (its first run)."""
    title, xlabel, ylabel = CURVES[kind]
    columns = min(4, len(results.scenarios))
    rows = math.ceil(len(results.scenarios) / columns)
    figure = Figure(figsize=(3.2 * columns, 3.0 * rows), layout="constrained")
    names = scenario_header(results)
    for i, scenario in enumerate(results.scenarios):
        axes = figure.add_subplot(rows, columns, i + 1)
        for model in results.models:
            frame = model.predictions(results.options.split)[0]
            frame = frame[frame["scenario"].astype(str) == scenario]
            if frame["label"].nunique() == 2:
                axes.plot(*_curve(kind, frame["label"].to_numpy(), frame[model.score_col].to_numpy()),
                          label=model.label, linewidth=1.2)
        axes.set_title(names[i], fontsize="medium")
        axes.set_xlabel(xlabel, fontsize="small")
        axes.set_ylabel(ylabel, fontsize="small")
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=max(1, min(3, len(labels))),
                  fontsize="small")
    figure.suptitle(f"{title} curves per scenario ({results.options.split} split)")
    return figure


def _curve(kind: str, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if kind == "roc":
        fpr, tpr, _ = roc_curve(labels, scores)
        return fpr, tpr
    precision, recall, _ = precision_recall_curve(labels, scores)
    return recall, precision


def figures(results: Results) -> dict[str, bytes]:
    """File name -> PNG bytes for every figure of the report."""
    out = {f"delta_{metric}.png": png_bytes(delta_figure(results, metric)) for metric in PANELS}
    out.update({f"{kind}_curves.png": png_bytes(curve_figure(results, kind)) for kind in CURVES})
    return out
