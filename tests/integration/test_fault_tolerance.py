"""Multi-node runs on this machine (a head and worker nodes as separate Ray nodes): work spreads over the nodes, a
worker node dies mid-run, and the run finishes from its checkpoint with every epoch run exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def fault_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("fault") / "data"
    build_simulated(SimulatorConfig(rows=12_000, seed=5), data).raise_if_invalid()
    return data


def run_on_cluster(mode: str, data: Path, out: Path) -> dict:
    script = Path(__file__).with_name("fault_run.py")
    done = subprocess.run([sys.executable, str(script), mode, str(data), str(out)], capture_output=True, text=True,
                          timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["killed"], f"the worker node was never killed (no checkpoint appeared?): {summary}"
    return summary


@pytest.mark.long
def test_training_survives_a_killed_worker_node(fault_data, tmp_path):
    summary = run_on_cluster("train", fault_data, tmp_path / "run")
    assert summary["restarts"] >= 1, "training did not resume from a checkpoint"
    assert summary["epochs"] == list(range(4)), summary  # every epoch exactly once, none repeated or lost
    assert len(summary["nodes"]) >= 2, summary  # the two Train workers ran on different nodes
    assert (tmp_path / "run" / "metrics.parquet").exists()


@pytest.mark.long
def test_search_spreads_over_nodes_and_survives_a_killed_node(fault_data, tmp_path):
    summary = run_on_cluster("search", fault_data, tmp_path / "search")
    assert summary["status"] == ["TERMINATED", "TERMINATED"], summary
    trials = list(summary["trials"].values())
    assert len({node for trial in trials for node in trial["nodes"]}) >= 2, summary  # spread over nodes
    for trial in trials:  # every epoch reported exactly once: nothing repeated or lost by the restart
        assert trial["epochs"] == list(range(len(trial["epochs"]))), summary
    assert summary["max_restarts"] >= 1, "the killed trial did not resume from its checkpoint"
    assert (tmp_path / "search" / "trials.parquet").exists() and (tmp_path / "search" / "best_config.json").exists()
