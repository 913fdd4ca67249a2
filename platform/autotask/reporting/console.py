"""The report tables as rich renderables for the terminal."""

from __future__ import annotations

from rich.table import Table

from autotask.reporting.display import Panel

ROW_STYLES = {"baseline": "bold", "model": "", "delta": "italic dim"}


def panel_table(panel: Panel) -> Table:
    table = Table(title=panel.title, title_justify="left")
    for i, name in enumerate(panel.header):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i > 0)
    for kind, cells in panel.rows:
        table.add_row(*cells, style=ROW_STYLES[kind])
    return table


def console_tables(panels: list[Panel]) -> list[Table]:
    return [panel_table(p) for p in panels]
