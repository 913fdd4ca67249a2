"""Two `train.py` commands on one --out: the second exits 2 within 5 s naming the holder, the first finishes
unharmed (issue 27). The first is a real process on a tiny dataset (2,000 rows, one epoch per stage); the second
runs `main` in this process, so that its time is the command's own (on a loaded 2-core machine a fresh interpreter
spends tens of seconds importing torch and Ray while the first starts Ray), with ray.init as a tripwire."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest
import ray

from autotask.commands import train
from autotask.run_lock import lock_path

pytestmark = pytest.mark.slow


def test_a_second_train_on_the_same_out_is_refused_naming_the_holder(repo_root, run_build_data, tmp_path,
                                                                     monkeypatch, capsys):
    data, out = tmp_path / "tiny", tmp_path / "run"
    built = run_build_data("simulate", "--out", data, "--rows", "2000")
    assert built.returncode == 0, built.stdout + built.stderr
    train_args = ["--data", str(data), "--model", "dnn", "--out", str(out), "--epochs-pretrain", "1",
                  "--epochs-finetune", "1"]
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    first = subprocess.Popen([sys.executable, str(repo_root / "runners" / "train.py"), *train_args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 300
    while not lock_path(out).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock_path(out).exists(), f"the first command never took the lock: {first.communicate()[0]}"

    def tripwire(*args, **kwargs):
        raise AssertionError("the second command started Ray")

    monkeypatch.setattr(ray, "init", tripwire)
    monkeypatch.setenv("COLUMNS", "300")
    started = time.monotonic()
    status = train.main(train_args)
    elapsed = time.monotonic() - started
    text = re.sub(r"\s+", " ", "".join(capsys.readouterr()))
    assert first.poll() is None, "the first finished before the second was tried"
    assert status == 2, text
    assert f"{out}: another command is writing this folder: pid {first.pid} on {socket.gethostname()}" in text
    assert elapsed < 5, f"refused after {elapsed:.1f} s"
    output = first.communicate(timeout=600)[0]
    assert first.returncode == 0, output
    assert (out / "metrics.parquet").exists() and (out / "predictions.parquet").exists()
    assert not lock_path(out).exists()
