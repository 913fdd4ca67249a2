"""Rich rendering of a validation report: rows and positive rates per scenario and split."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from autotask.data.contract import ONBOARD, SPLITS
from autotask.data.validate import ValidationReport


def summary_table(report: ValidationReport) -> Table:
    manifest = report.manifest
    table = Table(title=f"{report.path}: {report.n_rows:,} rows, d = {manifest.d} features, N = {manifest.n_tasks}")
    table.add_column("scenario")
    table.add_column("id", justify="right")
    present = set(report.summary["split"])
    splits = [split for split in SPLITS if split != ONBOARD or split in present]  # onboarding: only when given
    for split in splits:
        table.add_column(f"{split}\nrows / pos%", justify="right")
    summary = report.summary.set_index(["scenario", "split"])
    for scenario in manifest.all_scenarios:
        cells = []
        for split in splits:
            if (scenario, split) not in summary.index:
                cells.append("-")
                continue
            row = summary.loc[(scenario, split)]
            rate = f"{100 * row.positives / row.labelled:.0f}%" if row.labelled else (
                "unlabelled" if split == ONBOARD else "soft")
            cells.append(f"{int(row.rows):,} / {rate}")
        label = scenario if scenario in manifest.scenarios else f"{scenario} (unseen)"
        table.add_row(label, str(manifest.task_id(scenario)), *cells)
    return table


def print_report(report: ValidationReport, console: Console | None = None) -> None:
    console = console or Console()
    if report.ok:
        console.print(summary_table(report))
        manifest = report.manifest
        console.print(f"[green]valid[/green]: features = {', '.join(manifest.features)}")
        if manifest.texts:
            console.print(f"texts: {', '.join(manifest.texts)}")
        if manifest.embeddings:
            embeddings = manifest.embeddings
            console.print(f"embeddings: {', '.join(manifest.embedding_columns)} ({embeddings.get('model')}, "
                          f"{manifest.embedding_width} x {embeddings['dtype']} each; read with --set "
                          f"language=embeddings)")
    else:
        console.print(f"[red]{report.path}: {len(report.errors)} contract error(s)[/red]")
        for message in report.errors:
            # soft_wrap: a message stays one line (paths and row numbers are not broken by the console width)
            console.print(f"  - {message}", markup=False, highlight=False, soft_wrap=True)
