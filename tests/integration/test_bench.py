"""`runners/bench.py --quick` end to end, in this process's shared Ray session."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = pytest.mark.ray


def _runner(repo_root):
    spec = importlib.util.spec_from_file_location("bench_runner", repo_root / "runners" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_bench_runs_end_to_end(ray_session, repo_root, tmp_path):
    out = tmp_path / "bench.json"
    assert _runner(repo_root).main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    names = {row["name"] for row in result["rows"]}
    assert {"Ray Train, 1 worker", "Ray Train, 2 workers", "eager", "torchscript", "onnx"} <= names
    assert any(name.startswith("bare PyTorch loop") for name in names)
    training = [row for row in result["rows"] if row["section"] == "training"]
    assert all(row["rows_per_s"] > 0 and row["ratio"] > 0 for row in training)
    assert result["machine"]["device"] == "cpu" and result["machine"]["nproc"] >= 1
    assert any(row["section"] == "gpu" and "not measured" in row["note"] for row in result["rows"])
    assert {t["target"] for t in result["targets"]} >= {"export matches eager within 1e-5"}
    assert all(t["met"] for t in result["targets"] if t["target"] == "export matches eager within 1e-5")
