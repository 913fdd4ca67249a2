"""`runners/bench.py --quick` end to end, in this process's shared Ray session."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = pytest.mark.ray
RULES = {"zero", "mixture", "gated", "profile-gate", "profile-moments", "profile-em"}  # unseen rules, same weights


def _runner(repo_root):
    spec = importlib.util.spec_from_file_location("bench_runner", repo_root / "runners" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.long  # the runner itself is exercised by the quick quality suite below, in the default run
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


def test_quick_quality_suite_trains_scores_and_summarises(ray_session, repo_root, tmp_path):
    """The quality suite end to end on one small simulated dataset, one seed, AutoTask and LightGBM: every record
    is a real run's test AUCs, the oracle row comes from the data, the unseen-id rules are scored on the same
    weights, and a second call resumes (nothing retrained)."""
    out, workdir = tmp_path / "quality.json", tmp_path / "work"
    runner = _runner(repo_root)
    assert runner.main(["--suite", "quality", "--quick", "--workdir", str(workdir), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    models = {row["model"] for row in result["summary"]}
    assert models == {"AutoTask", "LightGBM", "oracle"}
    for row in result["summary"]:
        assert 50 < row["seen"] <= 100 and 0 < row["unseen"] <= 100 and row["seeds"] == 1
    assert {r["rule"] for r in result["unseen_rules"]} == RULES
    assert all(0 < r["valid_proxy"] <= 100 and 0 < r["test_unseen"] <= 100 for r in result["unseen_rules"])
    assert any(t["target"].endswith("seen AutoTask >= LightGBM") for t in result["targets"])
    assert sorted(r["block_size"] for r in result["in_context_blocks"]) == [1, 4, 16]
    served = next(r for r in result["in_context_blocks"] if r["block_size"] == 1)
    autotask = next(row for row in result["summary"] if row["model"] == "AutoTask")
    assert abs(served["seen"] - autotask["seen"]) < 0.01  # block size 1 is what the run itself scored (AUC, %)
    markdown = out.with_suffix(".md").read_text()
    assert "| simulator seed 0 | AutoTask |" in markdown and "| simulator seed 0 | gated |" in markdown
    stamp = (workdir / "runs" / "sim-0" / "autotask-seed0" / "metrics.parquet").stat().st_mtime_ns
    assert runner.main(["--suite", "quality", "--quick", "--workdir", str(workdir), "--out", str(out)]) == 0
    assert (workdir / "runs" / "sim-0" / "autotask-seed0" / "metrics.parquet").stat().st_mtime_ns == stamp
    assert json.loads(out.read_text())["summary"] == result["summary"]


def test_quick_worlds_suite_compares_over_worlds_and_resumes(ray_session, repo_root, tmp_path):
    """Two random worlds, AutoTask and LightGBM, one seed: per-world AUCs beside the oracle, the paired comparison
    over worlds, the unseen rules and onboarding sizes on AutoTask's weights, the markdown and figure; a second call
    retrains nothing."""
    out, workdir = tmp_path / "worlds.json", tmp_path / "work"
    runner = _runner(repo_root)
    assert runner.main(["--suite", "worlds", "--quick", "--workdir", str(workdir), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {(r["world"], r["model"]) for r in result["per_world"]} == {
        (w, m) for w in ("world-00", "world-01") for m in ("AutoTask", "LightGBM", "oracle")}
    assert all(50 < r["seen"] <= 100 for r in result["per_world"])
    pairs = {(c["model"], c["peer"], c["metric"]) for c in result["comparisons"]}
    assert ("AutoTask", "LightGBM", "seen") in pairs
    assert ("AutoTask + onboarding (200 rows)", "LightGBM", "unseen") in pairs
    assert {r["onboarding_rows"] for r in result["onboarding"]} == {50, 200, 1000}
    assert {r["rule"] for r in result["unseen_rules"]} == RULES
    assert len(result["worlds"]["worlds"]) == 2 and out.with_suffix(".png").stat().st_size > 0
    assert "## Targets" in out.with_suffix(".md").read_text()
    stamp = (workdir / "runs" / "world-00" / "autotask-seed0" / "metrics.parquet").stat().st_mtime_ns
    assert runner.main(["--suite", "worlds", "--quick", "--workdir", str(workdir), "--out", str(out)]) == 0
    assert (workdir / "runs" / "world-00" / "autotask-seed0" / "metrics.parquet").stat().st_mtime_ns == stamp
    # another --world-seed is another benchmark: refused in this workdir (exit 2), its worlds and results kept
    replication = tmp_path / "worlds-seed1.json"
    assert runner.main(["--suite", "worlds", "--quick", "--world-seed", "1", "--workdir", str(workdir),
                        "--out", str(replication)]) == 2
    assert not replication.exists() and json.loads((workdir / "worlds" / "worlds.json").read_text()) == result["worlds"]
