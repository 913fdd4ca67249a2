"""Showing and saving a benchmark result: rich tables on the console, JSON or CSV on disk."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rich.table import Table

from autotask.storage import atomic_write_text

COLUMNS = (("section", "section", "{}"), ("name", "path", "{}"), ("threads", "threads", "{}"),
           ("rows_per_s", "rows/s", "{:,.0f}"), ("ratio", "x bare", "{:.2f}"), ("p50_ms", "p50 ms", "{:.3f}"),
           ("p99_ms", "p99 ms", "{:.3f}"), ("max_abs_diff", "max |diff| vs eager", "{:.1e}"), ("note", "note", "{}"))


def _cell(row: dict, key: str, fmt: str) -> str:
    return fmt.format(row[key]) if row.get(key) is not None else ""


def results_table(result: dict) -> Table:
    """Every measured row (training, inference, GPU) in one table, the machine in its title."""
    machine = result["machine"]
    table = Table(title=f"AutoTask benchmark: {machine['nproc']} x {machine['cpu_model']}, device {machine['device']}")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right" if header not in ("section", "path", "note") else "left")
    for row in result["rows"]:
        table.add_row(*(_cell(row, key, fmt) for key, _, fmt in COLUMNS))
    return table


def targets_table(result: dict) -> Table:
    table = Table(title="Targets")
    for header in ("target", "measured", "met"):
        table.add_column(header)
    for target in result["targets"]:
        table.add_row(target["target"], target["measured"], "yes" if target["met"] else "[red]no[/red]")
    return table


def write_result(result: dict, path: str | Path) -> Path:
    """JSON (machine, config, rows, targets) or, for a .csv path, one CSV line per row and per target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".csv":
        atomic_write_text(path, json.dumps(result, indent=2, default=str))
        return path
    lines = result["rows"] + [{"section": "target", "name": t["target"], "note": f"{t['measured']}; met={t['met']}"}
                              for t in result["targets"]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[key for key, _, _ in COLUMNS], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(lines)
    atomic_write_text(path, buffer.getvalue())
    return path
