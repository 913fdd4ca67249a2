"""Build a report from models and write its folder (markdown, HTML, CSV tables, figures) atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.provenance import describe
from autotask.reporting.checks import check_out
from autotask.reporting.display import PANELS, Panel, notes, panels
from autotask.reporting.html import render_html
from autotask.reporting.markdown import render_markdown
from autotask.reporting.models import Model
from autotask.reporting.plots import figures
from autotask.reporting.tables import ReportOptions, Results, compute_results
from autotask.reporting.tuning import best_so_far_figure, tuning_notes
from autotask.storage import discard_dir, publish_dir, staging_dir

FIGURE_CAPTIONS = {  # by file stem: each figure is written as NAME.png, NAME.pdf and NAME.svg
    "delta_roc_auc": "ROC AUC delta to the baseline per scenario",
    "delta_pr_auc": "PR AUC delta to the baseline per scenario",
    "roc_curves": "ROC curves per scenario (first run of each model)",
    "pr_curves": "PR curves per scenario (first run of each model)",
    "best_so_far": "Tuning: best validation value so far per model, by trial",
}


@dataclass(frozen=True)
class Report:
    """A computed report: its numbers, text panels, notes and figures."""

    title: str
    results: Results
    panels: list[Panel]
    notes: list[str]
    figures: dict[str, bytes]

    @property
    def warnings(self) -> list[str]:
        """What the reader must know before reading the tables (a partial comparison), shown above them."""
        return self.results.warnings


def build_report(models: list[Model], baseline: Model, options: ReportOptions | None = None,
                 title: str | None = None, tuning: dict | None = None, results: Results | None = None) -> Report:
    """Compute AUCs, deltas with intervals (unless given as `results`), text panels and figures; `tuning` (a tuned
    study's record in study.json) adds the budget line, each model's winning config and the best-so-far figure."""
    results = results or compute_results(models, baseline, options)
    title = title or f"AutoTask report: per-scenario AUCs against {baseline.label} ({results.options.split})"
    footer = provenance_notes([baseline, *models])
    tuned = tuning_notes(tuning) if tuning else []
    extra = {"best_so_far": best_so_far_figure(tuning)} if tuning else None
    return Report(title, results, panels(results), tuned + notes(results) + footer, figures(results, extra))


def provenance_notes(models: list[Model]) -> list[str]:
    """The report's footer: what produced the runs (code, packages, machine, data), one line per distinct record."""
    runs_by_record: dict[str, list[str]] = {}
    for model in models:
        for run in model.runs:
            record = describe(run.config.get("provenance") or {})
            runs_by_record.setdefault(record, [])
            if run.path.name not in runs_by_record[record]:
                runs_by_record[record].append(run.path.name)
    if len(runs_by_record) == 1:
        return [f"Provenance (every run): {next(iter(runs_by_record))}"]
    return [f"Provenance ({', '.join(names)}): {record}" for record, names in runs_by_record.items()]


def metric_csv(results: Results, metric: str) -> pd.DataFrame:
    """One row per model and scenario (in table order): runs, mean and std (AUC %)."""
    order = {s: i for i, s in enumerate([*results.scenarios, MEAN_SEEN])}
    frame = results.summary[results.summary["metric"] == metric].drop(columns="metric")
    return frame.sort_values("scenario", key=lambda s: s.map(order), kind="stable")


def write_report(report: Report, out: str | Path, overwrite: bool = False) -> Path:
    """Write report.md, report.html, roc_auc.csv, pr_auc.csv, deltas.csv and figures/ (each figure as PNG, PDF
    and SVG) under `out` at once.

    RunDirError (before anything is written) when `out` is a file, exists without `overwrite`, or is a folder
    other than a report (only a report folder is replaced)."""
    out = Path(out)
    check_out(out, overwrite)
    staging = staging_dir(out)
    try:
        (staging / "figures").mkdir()
        paths: dict[str, list[str]] = {}  # caption -> its files, the PNG first
        for name, data in report.figures.items():
            (staging / "figures" / name).write_bytes(data)
            stem = Path(name).stem
            paths.setdefault(FIGURE_CAPTIONS.get(stem, stem), []).append(f"figures/{name}")
        for files in paths.values():
            files.sort(key=lambda path: not path.endswith(".png"))
        pngs = {caption: report.figures[files[0].removeprefix("figures/")] for caption, files in paths.items()
                if files[0].endswith(".png")}
        (staging / "report.md").write_text(render_markdown(report.title, report.panels, report.notes, paths,
                                                           report.warnings))
        (staging / "report.html").write_text(render_html(report.title, report.panels, report.notes, pngs,
                                                         report.warnings, report.results))
        for metric in PANELS:
            metric_csv(report.results, metric).to_csv(staging / f"{metric}.csv", index=False)
        report.results.deltas.to_csv(staging / "deltas.csv", index=False)
    except BaseException:
        discard_dir(staging)
        raise
    publish_dir(staging, out, overwrite=overwrite)
    return out
