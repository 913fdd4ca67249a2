"""The driver itself dies or is interrupted mid-run: `kill -9` of `compare.py` or `train.py` loses nothing, Ctrl-C stops
`train.py` within seconds (exit 130), and the study re-run finishes without redoing finished work. One sequence on one
study run, so the suite pays for four driver starts, not six."""

from __future__ import annotations

import contextlib
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

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.long]

REPO = Path(__file__).resolve().parents[2]
TAG = "AUTOTASK_FAULT_TEST"  # an environment variable naming the processes of one driver start
# 13 epochs, none stopped early (patience 12); AutoTask on 20,000 rows: epochs long enough (about a second, fed from
# memory) that each driver is stopped mid-run, not after its last epoch
TRAINING = ["--epochs-pretrain", "1", "--epochs-finetune", "12"]
PATIENCE = 12  # compare.py takes it from the study entry, train.py from its flag
EPOCHS = 13


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("driver") / "data"
    build_simulated(SimulatorConfig(rows=20_000, seed=3), out).raise_if_invalid()
    return out


def start(runner: str, *args: str, log: Path, tag: str = "") -> subprocess.Popen:
    """The runner as a user starts it; `tag` marks its environment, which its local Ray's processes inherit."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", TAG: tag}
    return subprocess.Popen([sys.executable, str(REPO / "runners" / f"{runner}.py"), *args], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def tagged_processes(tag: str) -> dict[int, str]:
    """Live (not zombie) processes whose environment carries `tag`, pid -> command line: the driver and the Ray it
    started (raylet, GCS, workers, agents), and nothing of another Ray on the machine."""
    found, marker = {}, f"{TAG}={tag}\0".encode()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            alive = stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
            if alive and marker in (stat.parent / "environ").read_bytes():
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_text().replace("\0", " ")
    return found


def ray_gone(tag: str) -> bool:
    """The killed driver's Ray no longer trains: every process it started has exited (workers run in sessions of
    their own and exit a few seconds after the raylet), except its dashboard and runtime-env agents, which exit on
    their own much later and are removed here so the suite does not accumulate them."""
    alive = tagged_processes(tag)
    if any("Agent" not in command for command in alive.values()):
        return False
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def registered_epoch(run_dir: Path) -> int:
    """The newest epoch whose checkpoint is registered (-1: none): Ray Train's registered checkpoint (a checkpoint
    folder alone may still be uploading, and a run killed then resumes from the one before), or, for a run training
    in the driver (runtime/local.py), its last complete checkpoint (`state.json` counts the epochs done)."""
    snapshot = run_dir / "ray" / "train" / "checkpoint_manager_snapshot.json"
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return json.loads(snapshot.read_text())["latest_checkpoint_result"]["metrics"]["epoch"]
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return json.loads((run_dir / "ray" / "local" / "latest" / "state.json").read_text())["epoch"] - 1
    return -1


def wait_until(condition, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None:
            assert process.poll() is None, f"the runner ended early ({process.returncode}): {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out: {log.read_text()[-2000:]}"
        time.sleep(0.5)


def interrupted_run(runner: str, args: list[str], run_dir: Path, log: Path, sig: int) -> int:
    """Start the runner, send `sig` to the driver alone once a newer checkpoint is registered, wait for the driver
    and its local Ray to be gone (they must go within 60 s); returns the driver's exit status."""
    reached, tag = registered_epoch(run_dir), f"{log.stem}-{os.getpid()}-{time.time_ns()}"
    process = start(runner, *args, log=log, tag=tag)
    wait_until(lambda: registered_epoch(run_dir) > reached, process, log)
    process.send_signal(sig)
    sent = time.monotonic()
    status = process.wait(timeout=30)
    assert time.monotonic() - sent < 30
    wait_until(lambda: ray_gone(tag), None, log, timeout=60)
    assert not (run_dir / "metrics.parquet").exists(), "finished before the signal: the test proves nothing"
    return status


def test_drivers_killed_or_interrupted_mid_run_lose_nothing(data, tmp_path):
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"runs": [{"name": "gbm", "model": "lightgbm"},
                                          {"name": "autotask", "model": "autotask",
                                           "training": {"patience": PATIENCE}}]}))
    out = tmp_path / "out"
    finished, running = out / "gbm-seed0", out / "autotask-seed0"
    compare = ["--data", str(data), "--study", str(study), "--out", str(out), *TRAINING]
    # train.py on the study's own run directory: the same config as the study gives it, so it resumes that run
    train = ["--data", str(data), "--model", "autotask", "--out", str(running), "--run-name", "autotask", "--variant",
             "autotask", *TRAINING, "--patience", str(PATIENCE)]

    logs = [tmp_path / f"{step}.log" for step in range(4)]
    interrupted_run("compare", compare, running, logs[0], signal.SIGKILL)  # 1. kill -9 of compare.py mid-study
    assert (finished / "metrics.parquet").exists()
    kept = {p.name: p.stat().st_mtime_ns for p in finished.iterdir()}
    record = (running / "data.json").read_text()

    status = interrupted_run("train", train, running, logs[1], signal.SIGINT)  # 2. Ctrl-C of train.py: exit 130
    assert status == 130, logs[1].read_text()
    assert "interrupted" in logs[1].read_text()

    interrupted_run("train", train, running, logs[2], signal.SIGKILL)  # 3. kill -9 of train.py

    assert start("compare", *compare, log=logs[3]).wait(timeout=400) == 0, logs[3].read_text()[-3000:]
    for quiet in ("INFO", "core_worker.cc", "Traceback"):  # a successful command prints none of Ray's own logs
        assert quiet not in logs[3].read_text(), logs[3].read_text()
    assert {p.name: p.stat().st_mtime_ns for p in finished.iterdir()} == kept, "a finished run was redone"
    trained = history(running)
    assert [h["epoch"] for h in trained["history"]] == list(range(EPOCHS)), trained  # each epoch once in the record
    assert trained["restarts"] >= 3, trained  # each of the three later drivers resumed from a registered checkpoint
    assert (running / "data.json").read_text() == record


def history(run_dir: Path) -> dict:
    return json.loads((run_dir / "model" / "history.json").read_text())
