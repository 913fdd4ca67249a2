"""The report as markdown: one pipe table per panel, notes, and the figures by relative path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

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


def figure_markdown(caption: str, paths: str | Sequence[str]) -> str:
    """The figure's first file as an image, then links to its other files (PDF, SVG) by their format."""
    first, *others = [paths] if isinstance(paths, str) else list(paths)
    links = ", ".join(f"[{PurePosixPath(p).suffix.lstrip('.').upper()}]({p})" for p in others)
    return f"![{caption}]({first})" + (f"\n\n{caption}: {links}" if links else "")


def render_markdown(title: str, panels: list[Panel], notes: list[str],
                    figure_paths: Mapping[str, str | Sequence[str]], warnings: Sequence[str] = ()) -> str:
    """The whole report.md text; warnings as a quoted block above the tables; figure_paths: caption -> its
    relative path, or its paths with the image (PNG) first and the other formats after it."""
    parts = [f"# {title}", ""]
    if warnings:
        quoted = [f"> {warning}" for warning in warnings]
        parts += ["\n>\n".join(quoted).replace("> ", "> **Warning:** ", 1), ""]
    for panel in panels:
        parts += [f"## {panel.title}", "", panel_markdown(panel), ""]
    parts += [f"- {note}" for note in notes] + [""]
    for_paths = [figure_markdown(caption, paths) + "\n" for caption, paths in figure_paths.items()]
    parts += ["## Figures", ""] + for_paths
    return "\n".join(parts)
