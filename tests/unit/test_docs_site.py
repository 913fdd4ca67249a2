"""The docs site: every page in mkdocs.yml's nav exists, every docs page is in the nav, the README's tour only
links to pages that exist, and `mkdocs build --strict` passes (broken links and missing pages fail it)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    return [page for value in node.values() for page in _nav_pages(value)]


def test_nav_and_docs_pages_match():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_pages(config["nav"])
    assert len(nav) == len(set(nav))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert set(nav) == pages, (sorted(set(nav) - pages), sorted(pages - set(nav)))


def test_readme_links_point_at_pages_that_exist():
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text())
    missing = [link for link in links if not (ROOT / link).exists()]
    assert links and not missing, missing


@pytest.mark.skipif(not (importlib.util.find_spec("mkdocs") and importlib.util.find_spec("material")),
                    reason="the docs extra is not installed (pip install -e '.[docs]'; scripts/setup.sh does)")
def test_the_site_builds_strictly(tmp_path):
    # no --quiet: it hides the warnings that --strict counts, and the build would pass with broken links
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
