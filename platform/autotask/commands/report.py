"""Per-scenario ROC/PR AUC tables of finished runs against a baseline, with paired bootstrap intervals.

  python runners/report.py RUN_DIR... --baseline RUN_DIR --out reports/NAME [--split test]
  python runners/report.py --study runs/paper --baseline dnn --out reports/paper

Runs are read from their directories only (config.json, metrics.parquet, predictions.parquet).
Runs sharing a `variant` (different seeds) form one model row, shown as mean ± std over seeds.
A run argument may name its score column: RUN_DIR:score_calibrated (else --score-col, default `score`).
--baseline takes RUN_DIR[:COLUMN], or with --study the run_name, variant or folder name of the study's
runs (all seeds); repeat it for several baseline seeds given as directories.
Table 2 of the paper (calibrated AutoTask vs calibrated DNN task branches):
  python runners/report.py runs/autotask:score_calibrated --baseline runs/dnn:score_task_calibrated --out ...
Writes report.md, report.html (self-contained), roc_auc.csv, pr_auc.csv, deltas.csv and figures/ into --out,
built in a temporary folder and renamed at the end.

Refused (exit status 2, nothing written): an incomplete run directory; runs whose predictions on --split cover
different row sets or whose config.json name different `data` (unless --allow-partial: then compared on their
shared rows, and the report says so above its tables); runs of one variant whose configs differ in more than the
seed (not seeds of one setting: give them distinct variants); a bad flag value (--bootstrap < 1, --level outside
(0, 1), --seed < 0, a --split the runs lack, a missing score column); an --out that is a file, exists without
--overwrite, or is a folder other than a report.
"""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from autotask.cli import report_input_error, runner_console, runner_main
from autotask.experiments.tuned import read_tuning
from autotask.reporting.checks import check_out
from autotask.reporting.console import console_tables
from autotask.reporting.models import select_models
from autotask.reporting.report import build_report, write_report
from autotask.reporting.runs import RunDirError
from autotask.reporting.tables import ReportOptions, compute_results

console = runner_console(160)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", metavar="RUN_DIR[:COLUMN]", help="run directories to compare")
    p.add_argument("--study", help="also every run directory (folder with config.json) under this folder")
    p.add_argument("--baseline", action="append", required=True, metavar="RUN_DIR[:COLUMN] | NAME")
    p.add_argument("--out", required=True, help="report folder, e.g. reports/NAME")
    p.add_argument("--split", default="test", help="valid, calib or test (default test)")
    p.add_argument("--score-col", default="score", help="score column of runs not naming one (default score); "
                   "a comma-separated list takes each run's first present column, e.g. score_paper,score: "
                   "AutoTask variants under the paper's unseen rule, other kinds their score")
    p.add_argument("--baseline-score-col", help="score column of the baseline runs (default: --score-col)")
    p.add_argument("--oracle", action="store_true", help="add an oracle row scored by the data's oracle_p")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--title", help="report title")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out report folder")
    p.add_argument("--allow-partial", action="store_true",
                   help="compare runs scored on different rows or datasets on their shared rows (noted in the "
                        "report) instead of refusing them")
    return p


def check(args) -> tuple:
    """Everything checked before anything is drawn or written (cheap checks first): returns (models, baseline,
    results)."""
    options = ReportOptions(args.split, args.bootstrap, args.seed, args.level, args.allow_partial)
    check_out(args.out, args.overwrite)
    models, baseline = select_models(args.runs, args.baseline, args.study, args.score_col,
                                     args.baseline_score_col, args.oracle)
    return models, baseline, compute_results(models, baseline, options)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not args.runs and not args.study:
        p.error("give RUN_DIR arguments or --study DIR")
    try:
        models, baseline, results = check(args)
        report = build_report(models, baseline, results.options, args.title,
                              read_tuning(args.study) if args.study else None, results)
        write_report(report, args.out, overwrite=args.overwrite)
    except (RunDirError, ValueError, FileExistsError) as exc:
        return report_input_error(console, exc)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    for table in console_tables(report.panels):
        console.print(table)
    for note in report.notes:
        console.print(note, highlight=False)
    console.print(f"report written to {args.out}/ (report.md, report.html, CSV tables, figures/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
