"""The report as one self-contained HTML page: tables, notes and figures embedded as base64 PNG."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from autotask.reporting.display import Panel

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #444; }
tr.baseline td { font-weight: 600; }
tr.delta td { color: #555; font-style: italic; background: #fafafa; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
.notes { font-size: 0.85em; color: #444; }
.warning { border-left: 4px solid #c60; background: #fff4e5; padding: 0.5em 1em; margin: 1em 0; }
"""


def panel_html(panel: Panel) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in panel.header)
    body = "".join(f'<tr class="{kind}">' + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
                   for kind, cells in panel.rows)
    return (f'<h2 id="{panel.metric}">{escape(panel.title)}</h2>\n'
            f'<table class="panel" data-metric="{panel.metric}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def figure_html(caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">' \
           f"<figcaption>{escape(caption)}</figcaption></figure>"


def render_html(title: str, panels: list[Panel], notes: list[str], figures: dict[str, bytes],
                warnings: Sequence[str] = ()) -> str:
    """The whole report.html text (no external resources); warnings in a box above the tables."""
    tables = "\n".join(panel_html(p) for p in panels)
    if warnings:
        tables = ('<div class="warning" role="alert"><strong>Warning:</strong> '
                  + "<br>".join(escape(w) for w in warnings) + "</div>\n" + tables)
    notes_html = "".join(f"<li>{escape(n)}</li>" for n in notes)
    figures_html = "\n".join(figure_html(caption, png) for caption, png in figures.items())
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{escape(title)}</h1>\n{tables}\n"
            f'<ul class="notes">{notes_html}</ul>\n<h2>Figures</h2>\n{figures_html}\n</body></html>\n')
