"""Report readability: a wide report (9 models, 12 scenarios) fits a 1280-pixel window in headless Chromium, its
tables are a heatmap of the delta to the baseline, and its figures stay legible (and come as PDF and SVG too)."""

from __future__ import annotations

import json
import re
import subprocess
from html import unescape
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.text import Text
from PIL import Image
from test_report import write_run

from autotask.reporting.models import select_models
from autotask.reporting.plots import DPI, MAX_WIDTH, report_figures
from autotask.reporting.report import Report, build_report, write_report
from autotask.reporting.tables import ReportOptions

CHROMIUM = Path("/usr/bin/chromium")
WIDE_SCENARIOS = ["Appliances", "Bath & Faucets", "Building Materials", "Doors & Windows", "Electrical",
                  "Flooring", "Hardware", "Heating & Cooling", "Kitchen", "Lighting & Fans", "Outdoor Garden",
                  "Paint"]
UNSEEN = {"Appliances", "Heating & Cooling"}
# variant -> strength of the label signal in its scores (the baseline's is 0.8: some models worse, some better)
WIDE_MODELS = {"DNN baseline (general branch)": 0.8, "AutoTask (task id encoding)": 2.2,
               "Full (unmasked) attention": 2.0, "Fusion by sum": 1.6,
               "Encoding + task-id dropout 0.15 (unseen=slot)": 1.3, "Task id number": 1.0, "No task id": 0.8,
               "LightGBM": 0.5, "AutoTask in-context profile": 0.3}
ROWS_PER_SCENARIO = 60
WINDOW = (1280, 900)
TEXT_COLOUR = (0x22, 0x22, 0x22)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def written_report(root: Path, scenarios: list[str], strengths: dict[str, float]) -> tuple[Report, Path]:
    """A report of one run per variant (the first the baseline) on `scenarios` (UNSEEN ones unseen), written
    under `root`; a variant's scores carry the label with its strength."""
    rng = np.random.default_rng(0)
    names = np.repeat(scenarios, ROWS_PER_SCENARIO)
    n = len(names)
    task = {s: 0 if s in UNSEEN else i + 1 for i, s in enumerate(scenarios)}
    rows = pd.DataFrame({"row_id": np.arange(n, dtype=np.int64), "scenario": names,
                         "task_id": [task[s] for s in names], "seen": [task[s] > 0 for s in names],
                         "split": "test", "label": rng.integers(0, 2, n).astype(np.int64),
                         "query_id": np.arange(n) // 4})
    signal = rows["label"].to_numpy() - 0.5
    for i, (variant, strength) in enumerate(strengths.items()):
        write_run(root / "study", f"m{i}", variant, 0, strength * signal + rng.normal(size=n), rows)
    models, baseline = select_models([], ["m0"], study=str(root / "study"))
    report = build_report(models, baseline, ReportOptions(resamples=20))
    return report, write_report(report, root / "report")


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> tuple[Report, Path]:
    """9 models (one of them the baseline) on 12 scenarios, 2 of them unseen."""
    return written_report(tmp_path_factory.mktemp("wide"), WIDE_SCENARIOS, WIDE_MODELS)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Report, Path]:
    """3 models on 4 scenarios, one of them unseen."""
    strengths = dict(list(WIDE_MODELS.items())[:3])
    return written_report(tmp_path_factory.mktemp("small"), WIDE_SCENARIOS[:4], strengths)


# Runs in the page once it has loaded: the page's horizontal extent, and for every table its scroll box and where
# its first column sits once the box is scrolled to its right end.
MEASURE = """<script>addEventListener('load', () => {
  const tables = [...document.querySelectorAll('table.panel')].map(table => {
    const box = table.parentElement, cell = table.querySelector('tbody td');
    box.scrollLeft = box.scrollWidth;
    return {overflowX: getComputedStyle(box).overflowX, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
            scrolled: box.scrollLeft, position: getComputedStyle(cell).position,
            cellLeft: cell.getBoundingClientRect().left, boxLeft: box.getBoundingClientRect().left};
  });
  const images = [...document.images].map(img => ({right: img.getBoundingClientRect().right,
                                                   natural: img.naturalWidth}));
  const out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
                                    innerWidth: window.innerWidth, tables, images});
  document.body.append(out);
});</script>"""


def chromium_layout(html: Path, tmp_path: Path) -> dict:
    """What MEASURE finds in `html` (a copy with the script added) rendered in a 1280x900 headless window."""
    page = tmp_path / "measure.html"
    page.write_text(html.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium_dom(page, tmp_path, "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return json.loads(unescape(found.group(1)))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium absent (apt-get install chromium)")
def test_wide_report_fits_a_1280_pixel_window(wide, tmp_path):
    report, out = wide
    layout = chromium_layout(out / "report.html", tmp_path)
    assert layout["innerWidth"] == WINDOW[0]
    assert layout["scrollWidth"] <= layout["innerWidth"], f"the page scrolls sideways: {layout['scrollWidth']} px"
    assert len(layout["tables"]) == len(report.panels)
    for table in layout["tables"]:  # 13 columns of intervals are wider than the window: they scroll in their box
        assert table["overflowX"] == "auto" and table["scrollWidth"] > table["clientWidth"] > 0
        assert table["scrolled"] > 0
        assert table["position"] == "sticky" and abs(table["cellLeft"] - table["boxLeft"]) < 1  # model column
    assert layout["images"] and all(i["natural"] > 0 and i["right"] <= WINDOW[0] for i in layout["images"])


def chromium_dom(html: Path, tmp_path: Path, *flags: str) -> str:
    done = subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *flags,
                           "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium absent (apt-get install chromium)")
def test_html_renders_in_headless_chromium(small, tmp_path):
    report, out = small
    dom = chromium_dom(out / "report.html", tmp_path)
    text = re.sub(r"<[^>]+>", "", dom)  # a delta's interval is in a span of its own
    for panel in report.panels:
        assert f'<h2 id="{panel.metric}">{panel.title}</h2>' in dom
        for _, cells in panel.rows:
            assert all(c.replace("&", "&amp;") in text for c in cells)
    assert dom.count("data:image/png;base64,") == len([n for n in report.figures if n.endswith(".png")]) == 4


def luminance(rgb: tuple[int, ...]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def table_cells(html: str, metric: str) -> list[tuple[str, list[str | None]]]:
    """(row kind, background colour of each scenario cell or None) of the metric's table in report.html."""
    table = re.search(rf'<table class="panel" data-metric="{metric}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<tr class="(\w+)">(.*?)</tr>', table.split("<tbody>")[1], re.S)
    return [(kind, [m or None for m in re.findall(r'<td(?: style="background:(#[0-9a-f]{6})"[^>]*)?>', cells)][1:])
            for kind, cells in rows]


def test_tables_are_a_heatmap_of_the_delta_to_the_baseline(wide):
    report, out = wide
    html = (out / "report.html").read_text()
    style = html.split("<style>")[1].split("</style>")[0]
    assert re.search(r"\.scroll \{[^}]*overflow-x: auto", style)
    assert re.search(r"td:first-child \{[^}]*position: sticky; left: 0", style)
    results = report.results
    others = [m for m in results.models if m is not results.baseline]
    columns = [*results.scenarios, "mean (seen)"]
    for metric in ("roc_auc", "pr_auc"):
        rows = table_cells(html, metric)
        assert [kind for kind, _ in rows] == ["baseline"] + ["model"] * len(others) + ["delta"] * len(others)
        assert rows[0][1] == [None] * len(columns)  # the baseline row is uncoloured
        deltas = results.deltas[results.deltas["metric"] == metric].set_index(["model", "scenario"])["delta"]
        largest = deltas.abs().max()
        for (_, colours), model in zip(rows[1:], others + others, strict=True):
            for colour, scenario in zip(colours, columns, strict=True):
                delta = deltas[(model.label, scenario)]
                rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
                white = min(rgb) >= 250 and abs(delta) < largest / 20  # too small for a visible tint
                assert white or np.sign(rgb[1] - rgb[0]) == np.sign(delta), (model.label, scenario, delta, colour)
                assert contrast(rgb, TEXT_COLOUR) >= 4.5  # WCAG AA for the cell's text
                if abs(delta) == largest:  # full colour: the most saturated cell of the table
                    assert colour in {"#63be7b", "#f8696b"}
                elif abs(delta) < largest / 10:  # near 0: near white
                    assert min(rgb) > 230, (delta, colour)
        assert f"full colour at ±{largest:.2f} points" in html
    assert html.count("red lower, white equal, green higher") == 2  # the legend line above each table
    assert "#222" in style  # the text colour the contrast was checked against


def test_figures_legible_with_nine_models_and_written_as_png_pdf_svg(wide, small):
    report, out = wide
    stems = ["delta_roc_auc", "delta_pr_auc", "roc_curves", "pr_curves"]
    markdown = (out / "report.md").read_text()
    for stem in stems:
        assert (out / "figures" / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
        assert ElementTree.parse(out / "figures" / f"{stem}.svg").getroot().tag.endswith("svg")
        with Image.open(out / "figures" / f"{stem}.png") as png:
            assert png.width <= MAX_WIDTH * DPI + 1  # shown at >= 90% of its size in a 1280-pixel window
        assert f"(figures/{stem}.png)" in markdown and f"[PDF](figures/{stem}.pdf)" in markdown
        assert f"[SVG](figures/{stem}.svg)" in markdown
    figures = report_figures(report.results)
    labels = [m.label for m in report.results.models]
    colours = {}
    for name, figure in figures.items():
        figure.draw_without_rendering()
        legend = figure.legends[0].get_window_extent()
        for axes in figure.axes:
            assert not legend.overlaps(axes.get_window_extent()), name  # legend outside the plots
        sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_text() and t.get_visible()]
        assert min(sizes) >= 9, name
        for axes in figure.axes:
            if name.endswith("curves"):
                lines = axes.get_lines()
                assert [line.get_label() for line in lines] == labels
                styles = {(to_hex(line.get_color()), line.get_linestyle(), line.get_marker()) for line in lines}
                assert len(styles) == 9  # 9 curves, 9 distinct looks
                for line in lines:
                    assert colours.setdefault(line.get_label(), to_hex(line.get_color())) == to_hex(
                        line.get_color())
            else:
                bars = [c for c in axes.containers if hasattr(c, "patches")]
                assert [b.get_label() for b in bars] == labels[1:]
                assert len({to_hex(b.patches[0].get_facecolor()) for b in bars}) == 8
    for name, figure in figures.items():  # a model has one colour in every figure
        if name.startswith("delta"):
            for bars in (c for c in figure.axes[0].containers if hasattr(c, "patches")):
                assert to_hex(bars.patches[0].get_facecolor()) == colours[bars.get_label()]
    narrow = report_figures(small[0].results)["delta_roc_auc"].get_figwidth()
    assert narrow < figures["delta_roc_auc"].get_figwidth() <= MAX_WIDTH  # wider with more scenarios
    assert len(figures["delta_roc_auc"].axes) == 2  # 13 groups of 8 bars wrap onto two rows
