"""The driver itself dies or is interrupted mid-run: Ctrl-C stops `train.py` within seconds (exit 130), `kill -9` of
`train.py` or `compare.py` loses nothing, and the same command re-run finishes without redoing finished work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TRAINING = ["--epochs-pretrain", "1", "--epochs-finetune", "6", "--patience", "10", "--batch-size", "128"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("driver") / "data"
    build_simulated(SimulatorConfig(rows=4_000, seed=3), out).raise_if_invalid()
    return out


def start(runner: str, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, str(REPO / "runners" / f"{runner}.py"), *args], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def checkpoints(run_dir: Path) -> int:
    return len(list((run_dir / "ray").glob("**/checkpoint_*"))) if (run_dir / "ray").exists() else 0


def wait_until(condition, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the runner ended early ({process.returncode}): {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out: {log.read_text()[-2000:]}"
        time.sleep(0.5)


def run_to_end(runner: str, *args: str, log: Path) -> str:
    process = start(runner, *args, log=log)
    assert process.wait(timeout=400) == 0, log.read_text()[-3000:]
    return log.read_text()


def history(run_dir: Path) -> dict:
    return json.loads((run_dir / "model" / "history.json").read_text())


def test_train_stops_on_ctrl_c_and_survives_kill_9(data, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data", str(data), "--model", "autotask", "--out", str(run_dir), *TRAINING]

    first = start("train", *args, log=tmp_path / "1.log")
    wait_until(lambda: checkpoints(run_dir) >= 1, first, tmp_path / "1.log")
    first.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    assert first.wait(timeout=30) == 130, (tmp_path / "1.log").read_text()[-2000:]
    assert time.monotonic() - interrupted < 30
    assert "interrupted" in (tmp_path / "1.log").read_text()
    record = (run_dir / "data.json").read_text()

    second = start("train", *args, log=tmp_path / "2.log")
    reached = checkpoints(run_dir)
    wait_until(lambda: checkpoints(run_dir) > reached, second, tmp_path / "2.log")
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    assert not (run_dir / "metrics.parquet").exists(), "finished before the kill: the test proves nothing"

    run_to_end("train", *args, log=tmp_path / "3.log")
    trained = history(run_dir)
    assert [h["epoch"] for h in trained["history"]] == list(range(7)), trained  # each epoch once in the record
    # resumed from a checkpoint (a kill between a checkpoint's upload and its registration costs that epoch only)
    assert trained["restarts"] >= 1, trained
    assert (run_dir / "data.json").read_text() == record


def test_compare_killed_mid_study_keeps_finished_runs(data, tmp_path):
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"runs": [{"name": "gbm", "model": "lightgbm"}, {"name": "dnn", "model": "dnn"}]}))
    out = tmp_path / "out"
    args = ["--data", str(data), "--study", str(study), "--out", str(out), *TRAINING[:4]]
    finished, running = out / "gbm-seed0", out / "dnn-seed0"

    first = start("compare", *args, log=tmp_path / "1.log")
    wait_until(lambda: checkpoints(running) >= 1, first, tmp_path / "1.log")
    assert (finished / "metrics.parquet").exists()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert not (running / "metrics.parquet").exists(), "finished before the kill: the test proves nothing"
    kept = {p.name: p.stat().st_mtime_ns for p in finished.iterdir()}

    log = run_to_end("compare", *args, log=tmp_path / "2.log")
    assert {p.name: p.stat().st_mtime_ns for p in finished.iterdir()} == kept, "a finished run was redone"
    assert str(finished) not in log.replace("\n", "")  # only the resumed run is reported as finished now
    trained = history(running)
    assert [h["epoch"] for h in trained["history"]] == list(range(7)), trained
    assert trained["restarts"] >= 1, trained
