"""A tuned study in its report: the budget line, each model's winning config, and a best-so-far curve per model
(the validation metric of the best trial so far against the trial number), from study.json's `tuning` entry."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from autotask.flat import flat_config
from autotask.models.registry import get_kind
from autotask.reporting.plots import COLOURS, FONT, LINESTYLES, MARKERS

SHOWN = ("model_config.", "training.lr_", "training.weight_decay", "training.epochs_")  # what a search samples


def tuning_notes(tuning: dict) -> list[str]:
    """The budget line and one line per model: its best validation value and its winning parameters."""
    lines = [f"Tuned comparison: {tuning['budget']} ({tuning['sampler']} sampler, {tuning['scheduler']} "
             f"scheduler); each model's config chosen on the validation split's {tuning['metric']} "
             f"({tuning['mode']}), then retrained per seed and scored on the report's split."]
    metric = f"best_{tuning['metric']}"
    for name, record in tuning["models"].items():
        config = flat_config(record["best_config"])
        shown = SHOWN if get_kind(record["model"]).is_torch else SHOWN[:1]  # LightGBM trains no epochs
        params = ", ".join(f"{key.split('.', 1)[1]}={_short(value)}" for key, value in sorted(config.items())
                           if key.startswith(shown))
        lines.append(f"Best config of {name} (validation {record[metric]:.4f}, trial {record['best_trial']} of "
                     f"{record['trials']}, space {record['space']}): {params}")
    return lines


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def best_so_far(values: list[float], mode: str) -> np.ndarray:
    """The running best of trial values in trial order (NaN trials keep the previous best)."""
    array = np.asarray(values, dtype=float)
    filled = np.where(np.isnan(array), -np.inf if mode == "max" else np.inf, array)
    running = np.maximum.accumulate(filled) if mode == "max" else np.minimum.accumulate(filled)
    return np.where(np.isfinite(running), running, np.nan)


def best_so_far_figure(tuning: dict) -> Figure:
    """One line per model: the best validation value so far against the trial number."""
    figure = Figure(figsize=(8.0, 4.5), layout="constrained")
    axes = figure.subplots()
    for i, (name, record) in enumerate(tuning["models"].items()):
        curve = best_so_far(record["curve"], tuning["mode"])
        axes.plot(np.arange(1, len(curve) + 1), curve, label=name, color=COLOURS[i % 10],
                  linestyle=LINESTYLES[i % 4], marker=MARKERS[i % 10], markersize=4)
    axes.set_xlabel("trial", fontsize=FONT)
    axes.set_ylabel(f"best validation {tuning['metric']} so far", fontsize=FONT)
    axes.set_title(f"Best so far per model ({tuning['budget']})", fontsize=FONT + 1)
    axes.tick_params(labelsize=FONT)
    axes.legend(fontsize=FONT - 1, loc="lower right" if tuning["mode"] == "max" else "upper right")
    return figure
