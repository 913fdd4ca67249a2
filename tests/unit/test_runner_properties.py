"""Property-based tests of every runner's command line (Hypothesis): flag values drawn across types and ranges
(numbers, negatives, NaN, huge values, strings, empty, unknown `--set` keys, malformed `--config` and `--study`
files) meet the runner's up-front checks in-process, and the only outcomes are: the checks pass, or a refusal with
exit 2 whose message names a drawn flag (or its value). Never another exception, never a traceback, and never
`ray.init` on a refused input: Ray's start is a tripwire.

Runners that start Ray (train, tune, compare) run their whole `main` (passing = the tripwire fires); the others run
their `check(args)`, what `main` does before the expensive part, under the same `runner_main` error handling.
EXAMPLES per runner by default; LONG_EXAMPLES with `pytest -m long`.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import ray
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotask import preflight
from autotask.cli import runner_main
from autotask.commands import bench, build_data, compare, export, quickstart, report, train, tune

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = 15  # per runner in the default suite
LONG_EXAMPLES = 300  # per runner under `pytest -m long`
PASSED = "passed"  # the up-front checks passed (a runner that starts Ray reached ray.init)


class RayStarted(BaseException):
    """Raised by the tripwire in place of ray.init."""


NUMBERS = st.one_of(
    st.integers(-3, 70), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**63, 10**12, 1e-300, -0.0]),
)
WORDS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
VALUES = st.one_of(NUMBERS.map(str), WORDS, st.sampled_from(["", "nan", "inf", "-inf", "1e309", "abc", "true",
                                                              "null", "[1]", "{}", "0x10", "1_000"]))
JSON_VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | WORDS,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
                           max_leaves=6)
MALFORMED = st.sampled_from(['{"runs": [', "", "[]", "null", "{'a': 1}", '{"runs": {}}', '{"runs": [1]}', "\ufeff{}",
                             '{"runs": [{"name": "a"}]}', '{"training": []}', '{"model_config": 3}'])


def flags_strategy(flags: dict) -> st.SearchStrategy:
    """One or two drawn (flag, value) pairs: each flag's own strategy, or any value."""
    pair = st.sampled_from(sorted(flags)).flatmap(lambda f: st.tuples(st.just(f), flags[f] | VALUES))
    return st.lists(pair, min_size=1, max_size=2, unique_by=lambda p: p[0])


def names_a_flag(text: str, drawn: list[tuple[str, str]]) -> bool:
    for flag, value in drawn:
        name = flag.lstrip("-")
        if flag in text or name.replace("-", "_") in text or name in text or (str(value).strip() and
                                                                                  str(value) in text):
            return True
    return False


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, sim_dataset) -> Path:
    """Two finished runs to report on, a LightGBM run to export, small text and feature tables to build from."""
    import pandas as pd
    from test_report import dataset, write_run

    root = tmp_path_factory.mktemp("properties")
    rows = dataset()
    for name in ("dnn", "autotask"):
        write_run(root / "runs", name, name, 0, rows["label"].to_numpy() * 0.5, rows)
    (root / "lightgbm-run").mkdir()
    (root / "lightgbm-run" / "config.json").write_text(json.dumps({"data": str(sim_dataset), "model": "lightgbm"}))
    n = 400
    scenarios = [f"s{i % 5}" if i % 50 else "tiny" for i in range(n)]
    pd.DataFrame({"query": [f"query {i // 4}" for i in range(n)], "offer": [f"offer {i % 37} red" for i in range(n)],
                  "grade": [(i * 7) % 4 for i in range(n)], "scenario": scenarios}).to_csv(root / "pairs.csv")
    pd.DataFrame({"scenario": [f"s{i % 3}" for i in range(n)], "label": [i % 2 for i in range(n)],
                  "f1": [i * 0.1 for i in range(n)], "f2": [(i * 13) % 7 for i in range(n)]}).to_csv(root / "feats.csv")
    return root


@pytest.fixture
def tripwire(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise RayStarted("ray.init")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(preflight, "local_capacity", lambda: (2.0, 0))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("COLUMNS", "400")
    return calls


def checks_only(module):
    """`main` up to its expensive part: parse, then the module's check(args), under runner_main."""
    return runner_main(module.console)(lambda argv: (module.check(module.parser().parse_args(argv)), 0)[1])


COUNTER = itertools.count()


def fresh(root: Path, name: str) -> str:
    return str(root / "outs" / f"{name}-{next(COUNTER)}")


def drawn_file(root: Path, content: str) -> str:
    path = root / "files" / f"f{next(COUNTER)}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(content)
    return str(path)


FILE_CONTENT = st.one_of(MALFORMED, JSON_VALUES.map(json.dumps),
                         st.dictionaries(st.sampled_from(["runs", "training", "model_config", "seed", "data", "x"]),
                                         JSON_VALUES, max_size=3).map(json.dumps))
STUDY_RUN = st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "../x", ""]) | WORDS,
                                   "model": st.sampled_from(["dnn", "lightgbm", "autotask", "xgb"]) | JSON_VALUES},
                                  optional={"model_config": st.dictionaries(
                                      st.sampled_from(["num_leaves", "learning_rate", "e1", "bogus"]), JSON_VALUES,
                                      max_size=2), "training": st.dictionaries(st.sampled_from(
                                          ["epochs_finetune", "workers", "nope"]), JSON_VALUES, max_size=2)})
STUDY_CONTENT = FILE_CONTENT | st.lists(STUDY_RUN, max_size=2).map(lambda runs: json.dumps({"runs": runs}))
SET_ITEMS = st.tuples(st.sampled_from(["num_leaves", "learning_rate", "e1", "n_head1", "block_size", "task_id_mode",
                                       "bogus", "", "min_data_in_leaf", "num_boost_round", "language"]) | WORDS,
                      VALUES).map(lambda kv: f"{kv[0]}={kv[1]}") | WORDS

# runner -> (how its checks run, a base argv given the workspace, the drawn flags: flag -> extra value strategy)
NUMERIC = st.nothing()
RUNNERS = {
    "train": (train.main, lambda w, d: ["--data", d, "--model", "lightgbm", "--out", fresh(w, "run"),
                                        "--epochs-pretrain", "1", "--epochs-finetune", "1"],
              {**{f: NUMERIC for f in ("--epochs-pretrain", "--epochs-finetune", "--batch-size", "--lr-facet1",
                                       "--lr-head", "--weight-decay", "--patience", "--workers", "--cpus-per-worker",
                                       "--max-failures", "--warmup-epochs", "--min-lr-ratio", "--eval-block-size",
                                       "--e1", "--block-size", "--task-id-dropout", "--seed")},
               "--model": st.sampled_from(["autotask", "dnn", "lightgbm", "mmoe"]), "--set": SET_ITEMS,
               "--config": FILE_CONTENT}),
    "tune": (tune.main, lambda w, d: ["--data", d, "--space", str(REPO / "search_spaces" / "autotask.py"),
                                      "--out", fresh(w, "search")],
             {**{f: NUMERIC for f in ("--trials", "--concurrent", "--epochs-pretrain", "--epochs-finetune",
                                      "--workers", "--seed")},
              "--metric": st.sampled_from(["valid_roc_auc", "auc", ""]), "--objectives": st.sampled_from(
                  ["auc", "auc,params", "params", ",", "auc,auc"]), "--study-name": WORDS}),
    "compare": (compare.main, lambda w, d: ["--data", d, "--study", "compact", "--out", fresh(w, "study")],
                {**{f: NUMERIC for f in ("--seeds", "--concurrent", "--workers", "--epochs-pretrain",
                                         "--epochs-finetune", "--tune-trials")}, "--study": STUDY_CONTENT}),
    "report": (checks_only(report), lambda w, d: [str(w / "runs" / "autotask-seed0"), "--baseline",
                                                  str(w / "runs" / "dnn-seed0"), "--out", fresh(w, "report"),
                                                  "--bootstrap", "20"],
               {**{f: NUMERIC for f in ("--bootstrap", "--level", "--seed")},
                "--split": st.sampled_from(["test", "valid", "calib", "train", ""]),
                "--score-col": st.sampled_from(["score", "score_calibrated", "nope"])}),
    "export": (export.main, lambda w, d: ["--run", str(w / "lightgbm-run"), "--out", fresh(w, "model") + ".onnx"],
               {"--run": st.sampled_from(["", ".", "nope", "runs"]), "--out": st.sampled_from(["", ".", "x.txt"]),
                "--scenario": WORDS, "--profile-from": st.sampled_from(["nope", "."]), "--split": WORDS}),
    "bench": (checks_only(bench), lambda w, d: ["--out", fresh(w, "bench") + ".json", "--suite", "gpu"],
              {"--rows": NUMERIC, "--workdir": st.sampled_from(["", ".", "runs/dnn-seed0/config.json"]),
               "--out": st.sampled_from(["", ".", "b.csv"])}),
    "quickstart": (checks_only(quickstart), lambda w, d: ["--data", fresh(w, "sim"), "--runs", fresh(w, "qs")],
                   {"--rows": NUMERIC, "--workers": NUMERIC, "--seed": NUMERIC,
                    "--runs": st.sampled_from(["", ".", "pairs.csv"])}),
}
BASE_FAULTS = {"export": ("--run",)}  # base flags a refusal may blame: no torch run is trained for export's checks
BUILDERS = {  # build_data's subcommands, each with its own base argv and flags
    "simulate": (lambda w: ["simulate", "--out", fresh(w, "sim")], {"--rows": NUMERIC, "--seed": NUMERIC}),
    "worlds": (lambda w: ["worlds", "--out", fresh(w, "worlds"), "--rows", "20000"],
               {"--count": NUMERIC, "--seed": NUMERIC, "--rows": NUMERIC}),
    "text": (lambda w: ["text", "--input", str(w / "pairs.csv"), "--query-col", "query", "--offer-col", "offer",
                        "--label-col", "grade", "--label-scale", "0:3", "--scenario-col", "scenario", "--out",
                        fresh(w, "text"), "--min-scenario-rows", "20"],
             {"--min-scenario-rows": NUMERIC, "--limit": NUMERIC, "--threshold": NUMERIC, "--seed": NUMERIC,
              "--label-scale": st.sampled_from(["0:3", "3:0", "1:1", "a:b", ":", "0:nan"]),
              "--fractions": st.sampled_from(["pretrain=0.3,train=0.3,valid=0.1,calib=0.1,test=0.2", "test=1",
                                              "train=x", "train=-1,valid=1,test=1", "", "=", "train=nan"]),
              "--unseen": st.sampled_from(["tiny", "s1", "nope", ","])}),
    "import": (lambda w: ["import", "--input", str(w / "feats.csv"), "--scenario-col", "scenario", "--label-col",
                          "label", "--out", fresh(w, "import")],
               {"--min-scenario-rows": NUMERIC, "--seed": NUMERIC, "--features": st.sampled_from(["f1", "f1,f1",
                "label", "nope", ""]), "--unseen": st.sampled_from(["s1", "nope", "s0,s1,s2"]),
                "--scenario-order": st.sampled_from(["s2,s1,s0", "s0", ""])}),
}


def run_once(call, argv: list[str], capsys) -> tuple[object, str]:
    try:
        status = call(argv)
    except RayStarted:
        status = PASSED
    except SystemExit as exc:  # argparse's usage errors (exit 2, naming the flag)
        status = exc.code
    output = capsys.readouterr()
    return (PASSED if status == 0 else status), re.sub(r"\s+", " ", output.out + output.err)


def check_property(call, argv: list[str], drawn: list[tuple[str, str]], capsys, tripwire) -> None:
    status, text = run_once(call, argv, capsys)
    assert "Traceback" not in text, text
    assert status in (PASSED, 2), f"{argv}: exit {status}: {text}"
    if status == 2:
        assert not tripwire, f"{argv}: refused after ray.init"
        assert "error" in text and names_a_flag(text, drawn), f"{argv}: the refusal names no drawn flag: {text}"
    tripwire.clear()


def flag_args(drawn: list[tuple[str, str]], root: Path) -> list[str]:
    """`--flag=value` (so that negative numbers stay values); a file flag's value is written to a file first."""
    out = []
    for i, (flag, value) in enumerate(drawn):
        if flag in ("--config", "--study"):
            value = drawn_file(root, value)
            drawn[i] = (flag, value)
        out.append(f"{flag}={value}")
    return out


def property_test(examples: int):
    common = settings(max_examples=examples, deadline=None, database=None, derandomize=examples == EXAMPLES,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

    def runner_case(name, workspace, sim_dataset, tripwire, capsys, monkeypatch):
        call, base, flags = RUNNERS[name]
        monkeypatch.chdir(workspace)

        @common
        @given(drawn=flags_strategy({f: (NUMBERS.map(str) if s is NUMERIC else s) for f, s in flags.items()}))
        def case(drawn):
            drawn = list(drawn)
            given_argv = base(workspace, str(sim_dataset))
            blamed = [(flag, given_argv[given_argv.index(flag) + 1]) for flag in BASE_FAULTS.get(name, ())]
            check_property(call, given_argv + flag_args(drawn, workspace), drawn + blamed, capsys, tripwire)

        case()

    def builder_case(name, workspace, tripwire, capsys, monkeypatch):
        base, flags = BUILDERS[name]
        monkeypatch.chdir(workspace)

        @common
        @given(drawn=flags_strategy({f: (NUMBERS.map(str) if s is NUMERIC else s) for f, s in flags.items()}))
        def case(drawn):
            drawn = list(drawn)
            check_property(checks_only(build_data), base(workspace) + flag_args(drawn, workspace), drawn, capsys,
                           tripwire)

        case()

    return runner_case, builder_case


_runner, _builder = property_test(EXAMPLES)
_long_runner, _long_builder = property_test(LONG_EXAMPLES)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_runner_flags_pass_or_are_refused_naming_the_flag(name, workspace, sim_dataset, tripwire, capsys,
                                                          monkeypatch):
    _runner(name, workspace, sim_dataset, tripwire, capsys, monkeypatch)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_build_data_flags_pass_or_are_refused_naming_the_flag(name, workspace, tripwire, capsys, monkeypatch):
    _builder(name, workspace, tripwire, capsys, monkeypatch)


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_runner_flags_long(name, workspace, sim_dataset, tripwire, capsys, monkeypatch):
    _long_runner(name, workspace, sim_dataset, tripwire, capsys, monkeypatch)


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_build_data_flags_long(name, workspace, tripwire, capsys, monkeypatch):
    _long_builder(name, workspace, tripwire, capsys, monkeypatch)
