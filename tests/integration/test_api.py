"""The docs' Python API example (docs/usage.md), run as written (in a scratch folder, on this session's Ray)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

USAGE = Path(__file__).resolve().parents[2] / "docs" / "usage.md"


def readme_example() -> str:
    """The python block that follows the `<!-- api-example -->` marker in docs/usage.md."""
    found = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", USAGE.read_text(), re.S)
    assert found, "docs/usage.md lost its API example"
    return found.group(1)


def test_the_readme_api_example_runs(ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md (api example)", "exec"), {})  # noqa: S102 - our own README
    assert (tmp_path / "reports" / "api" / "report.html").exists()
    config = json.loads((tmp_path / "runs" / "api" / "dnn" / "config.json").read_text())
    provenance = config["provenance"]
    assert provenance["packages"]["torch"] and provenance["machine"]["cpus"] >= 1
    assert provenance["data"]["digest"] == json.loads((tmp_path / "runs" / "api" / "dnn" / "data.json").read_text())[
        "digest"]
    assert "Provenance (every run): commit" in capsys.readouterr().out  # the report's footer, printed
