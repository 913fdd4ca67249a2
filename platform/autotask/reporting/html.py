"""The report as one self-contained HTML page: tables, notes and figures embedded as base64 PNG.

It fits a 1280-pixel window however many scenarios there are: a wide table scrolls sideways inside its own box
with the model column fixed at its left edge. Model and delta cells are coloured as a heatmap of the model's
delta to the baseline (red lower, white equal, green higher; the baseline row uncoloured)."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.reporting.display import Panel
from autotask.reporting.tables import Results, lookup

TEXT = "#222"
WHITE = (255, 255, 255)
HIGHER = (99, 190, 123)  # the colour of the largest gain over the baseline in a table
LOWER = (248, 105, 107)  # ... and of the largest loss; both keep #222 text at a contrast of 4.5:1 or more

STYLE = f"""
* {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; margin: 2em; color: {TEXT}; }}
h1 {{ overflow-wrap: anywhere; }}
.scroll {{ overflow-x: auto; max-width: 100%; margin: 0.3em 0 1.5em; border-right: 1px solid #eee; }}
.scroll:focus {{ outline: 2px solid #88a; }}
table {{ border-collapse: separate; border-spacing: 0; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; white-space: nowrap; }}
th:first-child, td:first-child {{ position: sticky; left: 0; z-index: 1; background: #fff; text-align: left;
  white-space: normal; min-width: 12em; max-width: 22em; box-shadow: inset -1px 0 0 #bbb; }}
thead th {{ border-bottom: 2px solid #444; }}
tr.baseline td {{ font-weight: 600; }}
tr.delta td {{ font-style: italic; white-space: normal; }}
.ci {{ display: inline-block; white-space: nowrap; }}
tr.delta td:first-child {{ background: #fafafa; }}
.legend {{ font-size: 0.85em; margin: 0.2em 0; }}
.swatch {{ display: inline-block; width: 8em; height: 0.9em; vertical-align: middle; border: 1px solid #ccc;
  background: linear-gradient(to right, {"rgb" + str(LOWER)}, #fff, {"rgb" + str(HIGHER)}); }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; height: auto; }}
.notes {{ font-size: 0.85em; color: #444; overflow-wrap: anywhere; }}
.warning {{ border-left: 4px solid #c60; background: #fff4e5; padding: 0.5em 1em; margin: 1em 0; }}
"""


def heat_colour(delta: float, scale: float) -> str | None:
    """The background of a cell whose model is `delta` points from the baseline: white at 0, LOWER or HIGHER
    at ±scale and beyond; None without a number."""
    if delta is None or not math.isfinite(delta) or not scale > 0:
        return None
    end = HIGHER if delta > 0 else LOWER
    t = min(1.0, abs(delta) / scale)
    return "#" + "".join(f"{round(w + t * (e - w)):02x}" for w, e in zip(WHITE, end, strict=True))


def panel_deltas(results: Results, panel: Panel) -> list[list[float | None]] | None:
    """Each row's delta to the baseline per scenario column (None for the baseline row), aligned to
    panel.rows: model rows (results.models) then delta rows (models other than the baseline); None when the
    panel does not have that shape."""
    columns = [*results.scenarios, MEAN_SEEN]
    others = [m for m in results.models if m is not results.baseline]
    if len(panel.header) != len(columns) + 1 or len(panel.rows) != len(results.models) + len(others):
        return None

    def deltas(model) -> list[float | None]:
        rows = [lookup(results.deltas, model.label, c, panel.metric) for c in columns]
        return [None if r is None else float(r["delta"]) for r in rows]

    return [None if m is results.baseline else deltas(m) for m in results.models] + [deltas(m) for m in others]


def cell_html(cell: str) -> str:
    """A cell's text; a delta's interval ("+1.23* [+0.40, +2.10]") kept whole, so that a narrow column puts it
    on a line below the delta rather than splitting it."""
    value, bracket, interval = cell.partition(" [")
    return escape(cell) if not bracket else f'{escape(value)} <span class="ci">[{escape(interval)}</span>'


def panel_html(panel: Panel, results: Results | None = None) -> str:
    """The panel's heading, its colour legend (with `results`) and its table in a sideways-scrolling box."""
    heat = panel_deltas(results, panel) if results is not None else None
    values = [abs(d) for row in heat or [] if row for d in row if d is not None and math.isfinite(d)]
    scale = max(values, default=0.0)
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in panel.header)
    body = []
    for i, (kind, cells) in enumerate(panel.rows):
        row_heat = heat[i] if heat and scale > 0 else None
        tds = [f"<td>{escape(cells[0])}</td>"]
        for j, cell in enumerate(cells[1:]):
            colour = heat_colour(row_heat[j], scale) if row_heat and row_heat[j] is not None else None
            style = (f' style="background:{colour}" title="Δ {row_heat[j]:+.2f} points vs baseline"'
                     if colour else "")
            tds.append(f"<td{style}>{cell_html(cell)}</td>")
        body.append(f'<tr class="{kind}">' + "".join(tds) + "</tr>")
    legend = ""
    if heat and scale > 0:
        legend = (f'<p class="legend">Cell colour: the model\'s Δ to the baseline ({escape(results.baseline.label)}) '
                  f'in that scenario <span class="swatch" aria-hidden="true"></span> red lower, white equal, '
                  f"green higher, full colour at ±{scale:.2f} points (the largest |Δ| in this table); "
                  "the baseline row is uncoloured.</p>")
    return (f'<h2 id="{panel.metric}">{escape(panel.title)}</h2>\n{legend}'
            f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(panel.title)} table">'
            f'<table class="panel" data-metric="{panel.metric}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def figure_html(caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">' \
           f"<figcaption>{escape(caption)}</figcaption></figure>"


def render_html(title: str, panels: list[Panel], notes: list[str], figures: dict[str, bytes],
                warnings: Sequence[str] = (), results: Results | None = None) -> str:
    """The whole report.html text (no external resources); warnings in a box above the tables; with `results`
    (whose panels these are) the tables are coloured by each model's delta to the baseline."""
    tables = "\n".join(panel_html(p, results) for p in panels)
    if warnings:
        tables = ('<div class="warning" role="alert"><strong>Warning:</strong> '
                  + "<br>".join(escape(w) for w in warnings) + "</div>\n" + tables)
    notes_html = "".join(f"<li>{escape(n)}</li>" for n in notes)
    figures_html = "\n".join(figure_html(caption, png) for caption, png in figures.items())
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{escape(title)}</h1>\n{tables}\n"
            f'<ul class="notes">{notes_html}</ul>\n<h2>Figures</h2>\n{figures_html}\n</body></html>\n')
