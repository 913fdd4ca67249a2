"""Multi-node fault tolerance: a worker node dies mid-training and the run finishes from its checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_run_survives_a_killed_worker_node(tmp_path):
    data = tmp_path / "data"
    build_simulated(SimulatorConfig(rows=12_000, seed=5), data).raise_if_invalid()
    script = Path(__file__).with_name("fault_run.py")
    done = subprocess.run([sys.executable, str(script), str(data), str(tmp_path / "run")], capture_output=True,
                          text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["killed"], "the worker node was never killed (no checkpoint appeared?)"
    assert summary["restarts"] >= 1, "training did not resume from a checkpoint"
    assert summary["epochs"] == list(range(6)), summary  # every epoch exactly once, none repeated or lost
    assert (tmp_path / "run" / "metrics.parquet").exists()
