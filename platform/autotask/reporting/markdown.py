"""The report as markdown: one pipe table per panel, notes, and the figures by relative path."""

from __future__ import annotations

from collections.abc import Sequence

from autotask.reporting.display import Panel


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def panel_markdown(panel: Panel) -> str:
    lines = ["| " + " | ".join(map(_escape, panel.header)) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(panel.header) - 1)) + "|"]
    for kind, cells in panel.rows:
        label = f"**{cells[0]}**" if kind == "baseline" else f"*{cells[0]}*" if kind == "delta" else cells[0]
        lines.append("| " + " | ".join(map(_escape, [label, *cells[1:]])) + " |")
    return "\n".join(lines)


def render_markdown(title: str, panels: list[Panel], notes: list[str], figure_paths: dict[str, str],
                    warnings: Sequence[str] = ()) -> str:
    """The whole report.md text; warnings as a quoted block above the tables."""
    parts = [f"# {title}", ""]
    if warnings:
        quoted = [f"> {warning}" for warning in warnings]
        parts += ["\n>\n".join(quoted).replace("> ", "> **Warning:** ", 1), ""]
    for panel in panels:
        parts += [f"## {panel.title}", "", panel_markdown(panel), ""]
    parts += [f"- {note}" for note in notes] + [""]
    parts += ["## Figures", ""] + [f"![{caption}]({path})" for caption, path in figure_paths.items()] + [""]
    return "\n".join(parts)
