"""A careless user's inputs against every runner: each exits 2 with a message naming the problem, before Ray
starts and before any file is written, and none ends in a traceback.

Runners are called in-process (`main(argv)`), with `ray.init` replaced by a tripwire: a case that reaches Ray
fails. The workspace and the dataset are snapshotted (paths, sizes, mtimes) around every call.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import ray

from autotask import preflight

REPO = Path(__file__).resolve().parents[2]
RUNNERS = ("train", "tune", "compare", "quickstart", "export", "bench", "report", "build_data")


class RayStarted(BaseException):
    """Raised by the tripwire in place of ray.init: a bad input reached Ray."""


def load_runner(name: str):
    spec = importlib.util.spec_from_file_location(f"runner_{name}", REPO / "runners" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


TRAIN = ["train", "--data", "{data}", "--model", "autotask", "--out", "run"]
TUNE = ["tune", "--data", "{data}", "--space", str(REPO / "search_spaces" / "autotask.py"), "--out", "search"]
COMPARE = ["compare", "--data", "{data}", "--study", "compact", "--out", "study"]
EXPORT = ["export", "--run", "lightgbm-run", "--out", "model.onnx"]
REPORT = ["report", "runs/autotask-seed0", "--baseline", "runs/dnn-seed0", "--out", "report"]

CASES = [  # (argv: runner name first, "{data}" for the dataset; a substring the message must contain)
    # train: resources and cluster (the two hangs), model settings, flags, files
    ([*TRAIN, "--workers", "100"], "50.25 CPUs"),
    ([*TRAIN, "--cpus-per-worker", "100"], "100.25 CPUs"),
    ([*TRAIN, "--use-gpu"], "GPUs"),
    ([*TRAIN, "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray cluster answers"),
    ([*TRAIN, "--address", "nohostport"], "expected HOST:PORT"),
    ([*TRAIN, "--e1", "0"], "e1 must be a positive integer"),
    ([*TRAIN, "--block-size", "0"], "block_size"),
    ([*TRAIN, "--block-size", "10000"], "block_size=10000 exceeds batch_size=256"),
    ([*TRAIN, "--set", "unknown=1"], "unknown autotask model config field(s) ['unknown']"),
    ([*TRAIN, "--set", "n_head1=3"], "n_head1"),
    ([*TRAIN, "--set", "n_head1"], "--set n_head1: expected KEY=VALUE"),
    ([*TRAIN, "--task-id-dropout", "1.5"], "task_id_dropout"),
    ([*TRAIN, "--eval-block-size", "100"], "eval_block_size=100 exceeds the model's block_size=16"),
    ([*TRAIN, "--epochs-pretrain", "0", "--epochs-finetune", "0"], "at least one epoch"),
    ([*TRAIN, "--batch-size", "0"], "batch_size must be >= 1"),
    ([*TRAIN, "--workers", "0"], "workers must be >= 1"),
    ([*TRAIN, "--lr-facet1", "-1"], "lr_facet1 must be > 0"),
    ([*TRAIN, "--model", "xgboost"], "invalid choice: 'xgboost'"),
    ([*TRAIN, "--config", "missing.json"], "--config missing.json: no such file"),
    ([*TRAIN, "--config", "broken.json"], "--config broken.json: not valid JSON at line 2"),
    ([*TRAIN, "--config", "list.json"], "--config list.json: must hold a JSON object"),
    ([*TRAIN, "--config", "bad-training.json"], "unknown training config key(s): ['epochs']"),
    (["train", "--data", "no-such-data", "--model", "dnn", "--out", "run"], "no-such-data: no such dataset"),
    (["train", "--data", "{data}", "--model", "dnn", "--out", "a-file"], "--out a-file: this is a file"),
    (["train", "--data", "{data}", "--model", "dnn", "--out", "{data}/runs/x"], "inside the dataset"),
    (["train", "--data", "{data}", "--model", "dnn", "--out", "stale-run"], "changed since the run started"),
    # tune
    ([*TUNE, "--trials", "0"], "--trials 0: at least 1 trial"),
    ([*TUNE, "--concurrent", "0"], "--concurrent 0"),
    ([*TUNE, "--metric", "valid_auc"], "--metric valid_auc: trials report valid_roc_auc"),
    ([*TUNE, "--objectives", "auc,latncy"], "--objectives auc,latncy"),
    ([*TUNE, "--workers", "100"], "CPUs"),
    ([*TUNE, "--address", "127.0.0.1:1"], "no Ray cluster answers"),
    ([*TUNE, "--resume"], "--resume: "),
    (["tune", "--data", "{data}", "--space", "syntax_space.py", "--out", "s"], "syntax_space.py: cannot load"),
    (["tune", "--data", "{data}", "--space", "name_space.py", "--out", "s"], "NameError"),
    (["tune", "--data", "{data}", "--space", "empty_space.py", "--out", "s"], "defines no function space"),
    (["tune", "--data", "{data}", "--space", "missing_space.py", "--out", "s"], "no such search-space file"),
    # compare
    ([*COMPARE, "--seeds", "0"], "--seeds 0: at least 1 seed"),
    ([*COMPARE, "--concurrent", "0"], "--concurrent 0: at least 1 run"),
    ([*COMPARE, "--workers", "100"], "CPUs"),
    ([*COMPARE, "--study", "twice.json"], "appear more than once"),
    ([*COMPARE, "--study", "escape.json"], "'../escape' is not a plain folder name"),
    ([*COMPARE, "--study", "bad-model.json"], "model must be one of"),
    ([*COMPARE, "--study", "bad-settings.json"], "n_head1"),
    ([*COMPARE, "--study", "broken.json"], "--study broken.json: not valid JSON"),
    ([*COMPARE, "--study", "nonesuch"], "--study nonesuch: not one of"),
    (["compare", "--data", "{data}", "--study", "compact", "--out", "a-file"], "this is a file"),
    (["compare", "--data", "{data}", "--study", "compact", "--out", "stale-study"], "changed since the run started"),
    # quickstart: every flag checked before the simulation
    (["quickstart", "--rows", "0"], "rows must be at least 2000"),
    (["quickstart", "--workers", "0"], "workers must be >= 1"),
    (["quickstart", "--workers", "100"], "CPUs"),
    (["quickstart", "--runs", "a-file"], "--runs a-file: this is a file"),
    (["quickstart", "--data", "a-file"], "--data a-file: this is a file"),
    # export
    (EXPORT, "lightgbm-run: a lightgbm run"),
    (["export", "--run", "no-such-run", "--out", "m.onnx"], "not a finished run directory"),
    ([*EXPORT[:3], "--out", "a-folder"], "--out a-folder: a folder"),
    ([*EXPORT[:3], "--out", "a-file/m.onnx"], "not a writable folder"),
    ([*EXPORT, "--scenario", "Clinic"], "--profile-from and --scenario go together"),
    # bench
    (["bench", "--out", "a-folder"], "--out a-folder: a folder"),
    (["bench", "--out", "b.json", "--rows", "5"], "--rows 5: at least 2000"),
    (["bench", "--out", "b.json", "--workdir", "a-file"], "--workdir a-file: this is a file"),
    (["bench", "--out", "b.json", "--world-seed", "3"], "--world-seed 3: a seed >= 0, for --suite worlds only"),
    (["bench", "--out", "b.json", "--suite", "worlds", "--world-seed", "-1"], "--world-seed -1: a seed >= 0"),
    # report (tests/unit/test_report_refusals.py walks its full table)
    ([*REPORT, "--bootstrap", "0"], "--bootstrap must be a whole number of resamples >= 1"),
    ([*REPORT, "--level", "1.5"], "--level must be an interval level strictly between 0 and 1"),
    ([*REPORT, "--out", "a-file"], "--out a-file: an existing file"),
    # build_data
    (["build_data", "validate", "no-such-data"], "no-such-data: no such dataset"),
    (["build_data", "simulate", "--out", "sim", "--rows", "0"], "2000"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, sim_dataset) -> Path:
    """Files a careless user points runners at, next to a valid dataset."""
    from test_report import dataset, write_run

    from autotask.storage import atomic_write_text

    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "a-file").write_text("not a folder\n")
    (root / "a-folder").mkdir()
    (root / "broken.json").write_text('{"runs": [\n')
    (root / "list.json").write_text("[1, 2]\n")
    (root / "bad-training.json").write_text(json.dumps({"training": {"epochs": 3}}))
    (root / "syntax_space.py").write_text("def space(trial, d):\n    return {\n")
    (root / "name_space.py").write_text("def space(trial, d):\n    return {'e1': undefined_width}\n")
    (root / "empty_space.py").write_text("WIDTH = 4\n")

    def study(name: str, *runs: dict) -> None:
        (root / name).write_text(json.dumps({"runs": list(runs)}))

    study("twice.json", {"name": "a", "model": "dnn"}, {"name": "a", "model": "autotask"})
    study("escape.json", {"name": "../escape", "model": "dnn"})
    study("bad-model.json", {"name": "x", "model": "xgboost"})
    study("bad-settings.json", {"name": "x", "model": "autotask", "model_config": {"n_head1": 3}})
    (root / "lightgbm-run").mkdir()
    (root / "lightgbm-run" / "config.json").write_text(json.dumps({"data": str(sim_dataset), "model": "lightgbm"}))
    for stale in ("stale-run", "stale-study/dnn-seed0"):  # runs started on data whose fingerprint has since changed
        (root / stale).mkdir(parents=True)
        atomic_write_text(root / stale / "data.json", json.dumps({"digest": "0" * 16, "files": {}}))
    rows = dataset()
    for name, seed in (("dnn", 0), ("autotask", 0)):
        write_run(root / "runs", name, name, seed, rows["label"].to_numpy() * 0.5 + seed * 0.1, rows)
    return root


def snapshot(*roots: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for root in roots for p in sorted(root.rglob("*"))}


@pytest.fixture
def tripwire(monkeypatch):
    """ray.init raises RayStarted; Ray looks uninitialised, so every path that would start it calls ray.init."""

    def refuse(*args, **kwargs):
        raise RayStarted("a bad input reached ray.init")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(preflight, "local_capacity", lambda: (2.0, 0))  # the cases assume a 2-core machine, no GPU
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_the_table_covers_every_runner():
    assert len(CASES) >= 40
    assert {argv[0] for argv, _ in CASES} == set(RUNNERS)


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_input_exits_2_naming_the_problem_before_ray_and_writing_nothing(
    argv, expected, workspace, sim_dataset, tripwire, monkeypatch, capsys
):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("COLUMNS", "400")
    main = load_runner(argv[0])
    args = [a.replace("{data}", str(sim_dataset)) for a in argv[1:]]
    before = snapshot(workspace, sim_dataset)
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    output = capsys.readouterr()
    text = re.sub(r"\s+", " ", output.out + output.err)
    assert status == 2, f"exit {status}: {text}"
    assert expected in text, text
    assert snapshot(workspace, sim_dataset) == before, "a refused input wrote or changed files"
