"""Reports never silently wrong: runs on different rows or datasets, non-seeds averaged as seeds, and bad flag
values are refused (exit 2, the flag or path named, nothing written); --allow-partial says so in the report."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report import dataset, write_run

from autotask.evaluation.bootstrap import MEAN_SEEN
from autotask.reporting.models import select_models
from autotask.reporting.runs import RunDirError
from autotask.reporting.tables import ReportOptions, compute_results

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """dnn (baseline), autotask (seeds 0, 1), and runs that must not be compared or averaged with them."""
    root = tmp_path_factory.mktemp("refusals")
    rows = dataset()
    rng = np.random.default_rng(3)
    signal = rows["label"].to_numpy() - 0.5

    def score(n: int = len(rows), gain: float = 2.0) -> np.ndarray:
        return gain * signal[:n] + rng.normal(size=n)

    write_run(root, "dnn", "DNN", 0, score(gain=0.6), rows)
    for seed in (0, 1):
        write_run(root, "autotask", "AutoTask", seed, score(), rows)
    write_run(root, "small", "Small", 0, score(2000), rows.iloc[:2000])  # trained on a smaller dataset
    other = write_run(root, "other", "Other", 0, score(), rows)  # the same rows, another dataset's path
    edit_config(other, data="sim-v2")
    tuned = write_run(root, "tuned", "AutoTask", 2, score(), rows)  # same variant, other settings
    edit_config(tuned, training={"lr_head": 0.01})
    shutil.copytree(root / "autotask-seed0", root / "copy" / "autotask-seed0")  # the same run twice
    (root / "nometrics").mkdir()
    shutil.copytree(root / "dnn-seed0", root / "nometrics", dirs_exist_ok=True)
    (root / "nometrics" / "metrics.parquet").unlink()
    (root / "empty-study").mkdir()
    (root / "a-file").write_text("not a folder\n")
    (root / "not-a-report").mkdir()
    (root / "not-a-report" / "notes.txt").write_text("keep me\n")
    return root


def edit_config(run: Path, **changes) -> None:
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.fixture(scope="module")
def report_main():
    spec = importlib.util.spec_from_file_location("report_runner", REPO / "runners" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def cases(r: Path, out: Path) -> list[tuple[list[str], str]]:
    """(argv, substring of the message) for every bad input; each must exit 2 before writing anything."""
    good = [str(r / "autotask-seed0"), "--baseline", str(r / "dnn-seed0")]
    with_out = [*good, "--out", str(out)]
    return [
        ([*with_out, "--bootstrap", "0"], "--bootstrap must be a whole number of resamples >= 1, got 0"),
        ([*with_out, "--bootstrap", "-1"], "--bootstrap must be a whole number of resamples >= 1, got -1"),
        ([*with_out, "--level", "1.5"], "--level must be an interval level strictly between 0 and 1"),
        ([*with_out, "--level", "0"], "--level must be an interval level strictly between 0 and 1"),
        ([*with_out, "--level", "1"], "--level must be an interval level strictly between 0 and 1"),
        ([*with_out, "--level", "nan"], "--level must be an interval level strictly between 0 and 1"),
        ([*with_out, "--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
        ([*with_out, "--split", "train"], "--split 'train': "),
        ([*with_out, "--score-col", "nope"], "has no column 'nope' (named by --score-col"),
        ([*with_out, "--baseline-score-col", "nope"], "has no column 'nope' (named by --baseline-score-col"),
        ([f"{r / 'autotask-seed0'}:nope", *good[1:], "--out", str(out)], "named by"),
        ([str(r / "autotask-seed0"), "--baseline", "nothere", "--out", str(out)], "--baseline 'nothere'"),
        (["--study", str(r / "empty-study"), "--baseline", "dnn", "--out", str(out)],
         "--study " + str(r / "empty-study") + ": no run directory"),
        (["--study", str(r / "no-such-study"), "--baseline", "dnn", "--out", str(out)],
         "--study " + str(r / "no-such-study") + ": not a study directory"),
        ([str(r / "nometrics"), "--baseline", str(r / "dnn-seed0"), "--out", str(out)],
         "nometrics: incomplete run directory, missing metrics.parquet"),
        ([str(r / "no-such-run"), "--baseline", str(r / "dnn-seed0"), "--out", str(out)],
         "no-such-run: not a run directory"),
        ([*good, "--out", str(r / "a-file")], "--out " + str(r / "a-file") + ": an existing file"),
        ([*good, "--out", str(r / "a-file"), "--overwrite"], "--out " + str(r / "a-file") + ": an existing file"),
        ([*good, "--out", str(r / "a-file" / "sub")], "a-file is a file, not a folder"),
        ([*good, "--out", str(r / "not-a-report"), "--overwrite"], "not a report (no report.md)"),
        ([*good, "--out", str(r / "autotask-seed1"), "--overwrite"], "not a report (no report.md)"),
        ([*good, "--out", str(r / "empty-study")], "already exists (pass --overwrite"),
        ([*good, "--oracle", "--out", str(out), "--baseline-score-col", "score_calibrated", "--score-col",
          "score_calibrated", "--split", "calib"], "--split 'calib'"),
        ([str(r / "small-seed0"), "--baseline", str(r / "dnn-seed0"), "--out", str(out)],
         "small-seed0: 1600 rows of split 'test': 0 only in it, 320 only in the reference"),
        ([str(r / "other-seed0"), "--baseline", str(r / "dnn-seed0"), "--out", str(out)],
         "other-seed0: data 'sim-v2', not 'sim'"),
        ([str(r / "autotask-seed0"), str(r / "tuned-seed2"), "--baseline", str(r / "dnn-seed0"), "--out", str(out)],
         "training.lr_head (absent vs 0.01)"),
        ([str(r / "autotask-seed0"), str(r / "copy" / "autotask-seed0"), "--baseline", str(r / "dnn-seed0"),
          "--out", str(out)], "one run twice"),
    ]


def test_every_bad_input_exits_2_naming_it_and_writes_nothing(runs, report_main, tmp_path, capsys):
    out = tmp_path / "report"
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("*")}
    for argv, needle in cases(runs, out):
        code = report_main(argv)
        printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
        assert code == 2, (argv, printed)
        assert " ".join(needle.split()) in printed, (argv, printed)
        assert not out.exists() and list(tmp_path.iterdir()) == [], argv  # no report, no staging folder
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*")} == before  # inputs untouched
    assert not [p for p in runs.rglob(".*.tmp")]


def test_different_rows_named_with_counts(runs):
    models, base = select_models([str(runs / "small-seed0"), str(runs / "autotask-seed0")],
                                 [str(runs / "dnn-seed0")])
    with pytest.raises(RunDirError, match="--allow-partial") as caught:
        compute_results(models, base, ReportOptions(resamples=10))
    message = str(caught.value)
    assert str(runs / "dnn-seed0") in message and str(runs / "small-seed0") in message
    assert "autotask-seed0" not in message  # runs on the reference's rows are not blamed


def test_seeds_of_one_setting_grouped_even_under_other_run_names(runs, tmp_path):
    renamed = tmp_path / "rerun"
    shutil.copytree(runs / "autotask-seed1", renamed)
    edit_config(renamed, run_name="autotask-rerun", seed=7)
    models, _ = select_models([str(runs / "autotask-seed0"), str(renamed)], [str(runs / "dnn-seed0")])
    assert [len(m.runs) for m in models] == [1, 2]


def test_different_settings_name_both_dirs_and_suggest_variant(runs):
    with pytest.raises(RunDirError) as caught:
        select_models([str(runs / "autotask-seed0"), str(runs / "tuned-seed2")], [str(runs / "dnn-seed0")])
    message = str(caught.value)
    assert str(runs / "autotask-seed0") in message and str(runs / "tuned-seed2") in message
    assert "--variant" in message and "training.lr_head" in message


def test_allow_partial_writes_the_note_everywhere(runs, report_main, tmp_path, capsys):
    out = tmp_path / "partial"
    argv = [str(runs / "small-seed0"), str(runs / "other-seed0"), str(runs / "autotask-seed0"), "--baseline",
            str(runs / "dnn-seed0"), "--out", str(out), "--bootstrap", "20", "--allow-partial"]
    assert report_main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert markdown.index("Partial comparison (--allow-partial)") < markdown.index("## ROC AUC")
    assert html.index('class="warning"') < html.index('id="roc_auc"')
    assert printed.index("warning: Partial comparison") < printed.index("ROC AUC (%)")
    for text in (markdown, html, printed):
        assert "small-seed0" in text and "other-seed0" in text
        assert "Small: 1600 rows" in text and "AutoTask: 1920 rows" in text
    deltas = pd.read_csv(out / "deltas.csv")  # each delta used the shared rows only: its n says so
    per_scenario = deltas[(deltas["metric"] == "roc_auc") & (deltas["scenario"] != MEAN_SEEN)]
    assert per_scenario.groupby("model")["n"].sum().to_dict() == {"Small": 1600, "Other": 1920, "AutoTask": 1920}


def test_refusal_end_to_end_exit_status(runs, tmp_path):
    out = tmp_path / "r"
    done = subprocess.run([sys.executable, "runners/report.py", str(runs / "small-seed0"), "--baseline",
                           str(runs / "dnn-seed0"), "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: runs score different rows of split 'test'" in done.stdout
    assert not out.exists()


@pytest.mark.parametrize("options", [{"resamples": 0}, {"level": 1.0}, {"level": float("nan")}, {"seed": -3},
                                     {"split": ""}])
def test_report_options_refuse_bad_values(options):
    with pytest.raises(RunDirError, match="^--"):
        ReportOptions(**options)


def test_one_dataset_named_relative_and_absolute_is_the_same(runs, tmp_path, monkeypatch):
    (tmp_path / "data" / "sim").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    base, model = tmp_path / "dnn", tmp_path / "autotask"
    shutil.copytree(runs / "dnn-seed0", base)
    shutil.copytree(runs / "autotask-seed0", model)
    edit_config(base, data="data/sim")
    edit_config(model, data=str(tmp_path / "data" / "sim"))
    models, baseline = select_models([str(model)], [str(base)])
    results = compute_results(models, baseline, ReportOptions(resamples=10))
    assert results.warnings == []
