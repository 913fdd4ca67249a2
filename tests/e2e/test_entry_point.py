"""`autotask COMMAND ...`: the installed entry point lists every command and runs each with the runners' flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autotask.entry import COMMANDS

AUTOTASK = Path(sys.executable).with_name("autotask")  # installed by `pip install -e .` ([project.scripts])


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(AUTOTASK), *args], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"})


def test_help_lists_every_command():
    done = run("--help")
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert f"\n  {command} " in done.stdout, done.stdout
    assert "Train one model" in done.stdout


def test_a_command_takes_the_runner_flags_and_exit_codes(sim_dataset, tmp_path):
    assert run("build-data", "validate", str(sim_dataset)).returncode == 0
    missing = run("train", "--data", str(tmp_path / "none"), "--model", "dnn", "--out", str(tmp_path / "run"))
    assert missing.returncode == 2 and "no such dataset" in missing.stdout, missing.stdout + missing.stderr
    usage = run("train", "--model", "xgboost", "--out", "x")
    assert usage.returncode == 2 and "autotask train: error" in usage.stderr
    unknown = run("trian")
    assert unknown.returncode == 2 and "unknown command 'trian'" in unknown.stderr


def test_train_flags_build_a_config_of_the_current_run_format(tmp_path):
    """A run trained now is recorded as today's format, even from an older run's config.json (it once wrote 1)."""
    import json

    from autotask.commands.train import build_config, parser
    from autotask.config import RUN_FORMAT

    old = tmp_path / "config.json"
    old.write_text(json.dumps({"data": "d", "model": "dnn", "format": 1}))
    for extra in ([], ["--config", str(old)]):
        args = parser().parse_args(["--data", "d", "--model", "dnn", "--out", "o", *extra])
        assert build_config(args).format == RUN_FORMAT
