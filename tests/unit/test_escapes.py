"""Named regressions for the escapes of issue 27, and the pieces that close them: LightGBM's parameters checked by
LightGBM before Ray, a study file with no runs, the run-folder lock (live holder, stale lock, release), and the
builders' scenario sizes checked (and folded) before any feature is extracted."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pandas as pd
import pytest
import ray

from autotask import preflight, run_lock
from autotask.commands import build_data, compare, train
from autotask.preflight import InputError


class RayStarted(BaseException):
    pass


@pytest.fixture
def tripwire(monkeypatch):
    def refuse(*args, **kwargs):
        raise RayStarted("ray.init")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(preflight, "local_capacity", lambda: (2.0, 0))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("COLUMNS", "400")


def refusal(main, argv, capsys) -> str:
    assert main(argv) == 2
    output = capsys.readouterr()
    return re.sub(r"\s+", " ", output.out + output.err)


def test_lightgbm_num_leaves_minus_3_is_refused_before_ray(sim_dataset, tmp_path, tripwire, capsys):
    text = refusal(train.main, ["--data", str(sim_dataset), "--model", "lightgbm", "--out", str(tmp_path / "run"),
                                "--set", "num_leaves=-3"], capsys)
    assert "--set: LightGBM refuses num_leaves=-3: Check failed: (num_leaves) > (1)" in text
    assert "[LightGBM] [Fatal]" not in text and not (tmp_path / "run").exists()


def test_lightgbm_parameters_from_a_config_file_name_the_file(sim_dataset, tmp_path, tripwire, capsys):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"model": "lightgbm", "model_config": {"learning_rate": 0, "num_boost_round": 2.5}}))
    text = refusal(train.main, ["--data", str(sim_dataset), "--config", str(config), "--out", str(tmp_path / "r")],
                   capsys)
    assert f"--config {config}: LightGBM refuses learning_rate=0" in text
    assert "num_boost_round=2.5: must be a whole number >= 1" in text


def test_a_valid_lightgbm_config_reaches_ray(sim_dataset, tmp_path, tripwire):
    with pytest.raises(RayStarted):
        train.main(["--data", str(sim_dataset), "--model", "lightgbm", "--out", str(tmp_path / "run"),
                    "--set", "num_leaves=15", "--set", "learning_rate=0.1"])
    assert not run_lock.lock_path(tmp_path / "run").exists(), "the lock outlives the command"


def test_a_study_file_without_runs_says_so(sim_dataset, tmp_path, tripwire, capsys):
    study = tmp_path / "empty.json"
    study.write_text('{"runs": []}')
    text = refusal(compare.main, ["--data", str(sim_dataset), "--study", str(study), "--out", str(tmp_path / "s")],
                   capsys)
    assert f"--study {study}: the study has no runs" in text and "max()" not in text


def test_a_live_holder_is_named_and_a_stale_lock_taken_over(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = run_lock.lock_path(folder)
        lock.write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid, "since": "12:00:00",
                                    "command": "train.py --out run"}))
        with pytest.raises(InputError, match=rf"pid {holder.pid} on {socket.gethostname()} since 12:00:00"):
            run_lock.acquire(folder)
    finally:
        holder.kill()
        holder.wait()
    with run_lock.hold(folder) as me:  # the holder is gone: its lock is taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid() == me["pid"]
        with pytest.raises(InputError, match="another command is writing this folder"):
            run_lock.acquire(folder)  # a second writer, even in this process
    assert not lock.exists() and not list(tmp_path.glob("*.stale-*"))


def test_a_lock_from_another_machine_is_never_taken_over(tmp_path):
    lock = run_lock.lock_path(tmp_path / "run")
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1}))
    with pytest.raises(InputError, match="this machine cannot tell whether it still runs"):
        run_lock.acquire(tmp_path / "run")
    run_lock.release(tmp_path / "run", {"token": "not-mine"})
    assert lock.exists()


def pairs(path, sizes: dict[str, int]) -> str:
    names = [name for name, rows in sizes.items() for _ in range(rows)]
    pd.DataFrame({"query": [f"q{i // 2}" for i in range(len(names))], "offer": [f"o{i}" for i in range(len(names))],
                  "grade": [i % 2 for i in range(len(names))], "dept": names}).to_csv(path, index=False)
    return str(path)


def text_args(tmp_path, *extra) -> list[str]:
    source = pairs(tmp_path / "pairs.csv", {"big": 600, "mid": 400, "tiny": 3, "wee": 2})
    return ["text", "--input", source, "--query-col", "query", "--offer-col", "offer", "--label-col", "grade",
            "--scenario-col", "dept", "--out", str(tmp_path / "out"), *extra]


def test_tiny_derived_scenarios_are_refused_before_features_naming_the_fold_flag(tmp_path, capsys):
    with pytest.raises(ValueError) as refused:
        build_data.check(build_data.parser().parse_args(text_args(tmp_path)))
    text = " ".join(refused.value.messages)
    assert "has no labelled rows in split 'test'" in text and "wee (2 rows)" in text
    assert "--min-scenario-rows N" in text and not (tmp_path / "out").exists()


def test_min_scenario_rows_folds_small_scenarios_into_other_and_says_which(tmp_path, capsys):
    pairs_frame, layout = build_data.check(build_data.parser().parse_args(text_args(tmp_path, "--min-scenario-rows",
                                                                                    "50")))
    assert sorted(set(layout["scenario"])) == ["big", "mid", "other"]
    assert "folded 2 scenario(s) into 'other': tiny (3 rows), wee (2 rows)" in capsys.readouterr().out


def test_min_scenario_rows_folds_in_import_too(tmp_path, capsys):
    source = tmp_path / "feats.csv"
    names = ["a"] * 500 + ["b"] * 400 + ["c"] * 4 + ["d"] * 60 + ["e"] * 60
    pd.DataFrame({"s": names, "y": [i % 2 for i in range(len(names))], "f": range(len(names))}).to_csv(source,
                                                                                                    index=False)
    args = ["import", "--input", str(source), "--scenario-col", "s", "--label-col", "y", "--out", str(tmp_path / "o")]
    with pytest.raises(ValueError, match="scenario 'c'"):
        build_data.check(build_data.parser().parse_args(args))
    frame, manifest = build_data.check(build_data.parser().parse_args([*args, "--min-scenario-rows", "100"]))
    assert sorted(manifest.all_scenarios) == ["a", "b", "other"]
    assert "folded 3 scenario(s) into 'other': c (4 rows), d (60 rows), e (60 rows)" in capsys.readouterr().out
