"""Report figures: per-scenario delta bars with interval error bars, ROC and PR curves; each as PNG (embedded in
report.html) and as PDF and SVG (for papers).

Legible with many models: every model keeps one style in all figures (a tab10 colour, and for curves a line
style and marker too, so 9 or more curves stay apart even in grey), the legend sits below the plots, and the
delta bars wrap onto several rows when there are many scenarios, so that no figure outgrows a 1280-pixel page."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.reporting.display import PANELS, scenario_header
from autotask.reporting.tables import Results

CURVES = {"roc": ("ROC", "false positive rate", "true positive rate"), "pr": ("PR", "recall", "precision")}
FORMATS = ("png", "pdf", "svg")
DPI = 110
MAX_WIDTH = 12.0  # inches: 1320 px at DPI, shown at >= 90% in report.html at 1280 px
MAX_BARS_PER_ROW = 64
FONT = 10.0  # points: titles, labels, ticks and legends are never smaller than 9 points
COLOURS = matplotlib.colormaps["tab10"].colors
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
HATCHES = ("", "//", "..", "xx")


@dataclass(frozen=True)
class Style:
    """How one model is drawn in every figure of a report."""

    color: tuple[float, float, float]
    linestyle: str
    marker: str
    hatch: str


def model_styles(results: Results) -> dict[str, Style]:
    """Model label -> Style, by its place in the report (baseline included): 40 distinct combinations."""
    return {m.label: Style(COLOURS[i % 10], LINESTYLES[i % 4], MARKERS[i % 10], HATCHES[i // 10 % 4])
            for i, m in enumerate(results.models)}


def figure_bytes(figure: Figure, fmt: str = "png") -> bytes:
    """The figure as PNG, PDF or SVG; PDF and SVG without a creation date (the same figure, the same bytes)."""
    buffer = io.BytesIO()
    metadata = {"png": None, "pdf": {"CreationDate": None}, "svg": {"Date": None}}[fmt]
    with matplotlib.rc_context({"svg.hashsalt": "autotask-report", "svg.fonttype": "none", "pdf.fonttype": 42}):
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    return buffer.getvalue()


def png_bytes(figure: Figure) -> bytes:
    return figure_bytes(figure, "png")


def _legend_columns(labels: list[str], width: float) -> int:
    """As many legend columns as the longest label lets fit in `width` inches."""
    longest = max((len(label) for label in labels), default=1)
    return max(1, min(len(labels), int(width * 72 / (0.55 * FONT * longest + 40))))


def delta_figure(results: Results, metric: str) -> Figure:
    """Grouped bars of each model's delta to the baseline per scenario, with its interval as error bars; the
    scenarios wrap onto rows of at most MAX_BARS_PER_ROW bars sharing one y axis."""
    labels = scenario_header(results)
    styles = model_styles(results)
    models = [m for m in results.models if m is not results.baseline]
    per_bar = max(1, len(models))
    rows = math.ceil(len(labels) * per_bar / MAX_BARS_PER_ROW)
    per_row = math.ceil(len(labels) / rows)
    width = min(MAX_WIDTH, max(6.4, 1.6 + per_row * (0.14 * per_bar + 0.35)))
    legend_rows = math.ceil(len(models) / _legend_columns([m.label for m in models], width)) if models else 0
    figure = Figure(figsize=(width, 0.9 + 2.9 * rows + 0.25 * legend_rows), layout="constrained")
    grid = figure.subplots(rows, 1, sharey=True, squeeze=False)[:, 0]
    bar = 0.8 / per_bar
    scenarios = [*results.scenarios, MEAN_SEEN]
    frames = {}
    for model in models:
        frame = results.deltas[(results.deltas["model"] == model.label) & (results.deltas["metric"] == metric)]
        frames[model.label] = frame.set_index("scenario").reindex(scenarios)
    for r, axes in enumerate(grid):
        part = slice(r * per_row, min(len(labels), (r + 1) * per_row))
        x = np.arange(len(labels[part]))
        for i, model in enumerate(models):
            delta, low, high = (frames[model.label][c].to_numpy(dtype=float)[part] for c in ("delta", "low", "high"))
            style = styles[model.label]
            axes.bar(x + (i - (len(models) - 1) / 2) * bar, delta, bar, yerr=[delta - low, high - delta],
                     capsize=min(3.0, 30 * bar), color=style.color, hatch=style.hatch, edgecolor="white",
                     linewidth=0.3, error_kw={"elinewidth": 0.9, "ecolor": "#333"}, label=model.label)
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set_xticks(x, labels[part], rotation=30, ha="right", fontsize=FONT)
        axes.tick_params(axis="y", labelsize=FONT)
        axes.set_xlim(-0.6, per_row - 0.4)
        axes.grid(axis="y", color="#ddd", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.set_ylabel(f"Δ {PANELS[metric].replace(' (%)', '')} (points)", fontsize=FONT)
    figure.suptitle(f"{PANELS[metric].replace(' (%)', '')}: model − {results.baseline.label}, "
                    f"{100 * results.options.level:.0f}% paired bootstrap interval", fontsize=FONT + 1)
    if models:
        handles, names = grid[0].get_legend_handles_labels()
        figure.legend(handles, names, loc="outside lower center", fontsize=FONT,
                      ncols=_legend_columns(names, width), frameon=False)
    return figure


def curve_figure(results: Results, kind: str) -> Figure:
    """One panel per scenario with each model's ROC or PR curve (its first run); the legend below them."""
    title, xlabel, ylabel = CURVES[kind]
    styles = model_styles(results)
    columns = min(4, len(results.scenarios))
    rows = math.ceil(len(results.scenarios) / columns)
    width = min(MAX_WIDTH, 3.0 * columns)
    labels = [m.label for m in results.models]
    legend_rows = math.ceil(len(labels) / _legend_columns(labels, width))
    figure = Figure(figsize=(width, 0.6 + 2.9 * rows + 0.25 * legend_rows), layout="constrained")
    names = scenario_header(results)
    for i, scenario in enumerate(results.scenarios):
        axes = figure.add_subplot(rows, columns, i + 1)
        for model in results.models:
            frame = model.predictions(results.options.split)[0]
            frame = frame[frame["scenario"].astype(str) == scenario]
            if frame["label"].nunique() == 2:
                style = styles[model.label]
                axes.plot(*_curve(kind, frame["label"].to_numpy(), frame[model.score_col].to_numpy()),
                          label=model.label, linewidth=1.3, color=style.color, linestyle=style.linestyle,
                          marker=style.marker, markersize=4, markevery=0.2)
        axes.set_title(names[i], fontsize=FONT)
        axes.set_xlabel(xlabel, fontsize=FONT - 1)
        axes.set_ylabel(ylabel, fontsize=FONT - 1)
        axes.tick_params(labelsize=FONT - 1)
        axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=_legend_columns(labels, width),
                  fontsize=FONT, frameon=False)
    figure.suptitle(f"{title} curves per scenario ({results.options.split} split)", fontsize=FONT + 1)
    return figure


def _curve(kind: str, labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if kind == "roc":
        fpr, tpr, _ = roc_curve(labels, scores)
        return fpr, tpr
    precision, recall, _ = precision_recall_curve(labels, scores)
    return recall, precision


def report_figures(results: Results) -> dict[str, Figure]:
    """Figure name (file stem) -> figure, for every figure of the report."""
    out = {f"delta_{metric}": delta_figure(results, metric) for metric in PANELS}
    out.update({f"{kind}_curves": curve_figure(results, kind) for kind in CURVES})
    return out


def figures(results: Results, extra: dict[str, Figure] | None = None) -> dict[str, bytes]:
    """File name -> bytes for every figure of the report (and `extra` ones) in every format: NAME.png, NAME.pdf,
    NAME.svg."""
    out = {}
    for name, figure in {**report_figures(results), **(extra or {})}.items():
        out[f"{name}.{FORMATS[0]}"] = figure_bytes(figure, FORMATS[0])
        figure.set_layout_engine("none")  # keep the layout the first format computed (the same in points)
        out.update({f"{name}.{fmt}": figure_bytes(figure, fmt) for fmt in FORMATS[1:]})
    return out
