"""Reports built from hand-made run directories (config.json, metrics.parquet, predictions.parquet)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from autotask.evaluation.metrics import scenario_metrics
from autotask.reporting.display import panels
from autotask.reporting.models import select_models
from autotask.reporting.report import build_report, write_report
from autotask.reporting.runs import RunDirError
from autotask.reporting.tables import ReportOptions, compute_results

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = {"Tours": 3, "Clinic": 0, "Hotel": 1, "Store": 2}  # row order differs from task-id order
ROWS_PER_SCENARIO = 600
FILES = ["report.md", "report.html", "roc_auc.csv", "pr_auc.csv", "deltas.csv"]


def dataset(seed: int = 0) -> pd.DataFrame:
    """The shared rows: scenario, task id, split, label, query (4 rows each) and the oracle's probability."""
    rng = np.random.default_rng(seed)
    names = np.repeat(list(SCENARIOS), ROWS_PER_SCENARIO)
    n = len(names)
    latent = rng.normal(size=n)
    oracle = 1 / (1 + np.exp(-2 * latent))
    return pd.DataFrame({
        "row_id": np.arange(n, dtype=np.int64), "scenario": names,
        "task_id": [SCENARIOS[s] for s in names], "seen": [SCENARIOS[s] > 0 for s in names],
        "split": np.where(np.arange(n) % 5 == 0, "valid", "test"),
        "label": (rng.random(n) < oracle).astype(np.int64),
        "query_id": np.arange(n) // 4, "oracle_p": oracle,
    })


def write_run(root: Path, name: str, variant: str, seed: int, score: np.ndarray, rows: pd.DataFrame) -> Path:
    """A run directory as runners/train.py writes it."""
    run = root / f"{name}-seed{seed}"
    run.mkdir(parents=True)
    predictions = rows.assign(score=score, score_calibrated=1 / (1 + np.exp(-score)))
    config = {"run_name": name, "model": "autotask", "variant": variant, "seed": seed, "data": "sim"}
    (run / "config.json").write_text(json.dumps(config))
    predictions.to_parquet(run / "predictions.parquet", index=False)
    scenario_metrics(predictions).to_parquet(run / "metrics.parquet", index=False)
    return run


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """dnn (baseline), autotask (2 seeds, clearly better), twin (the baseline with 1% of rows perturbed)."""
    root = tmp_path_factory.mktemp("study")
    rows = dataset()
    rng = np.random.default_rng(1)
    signal = rows["label"].to_numpy() - 0.5
    base = 0.6 * signal + rng.normal(size=len(rows))
    write_run(root, "dnn", "DNN baseline", 0, base, rows)
    for seed in (0, 1):
        write_run(root, "autotask", "AutoTask", seed, 2.0 * signal + rng.normal(size=len(rows)), rows)
    twin = base + np.where(rng.random(len(rows)) < 0.01, rng.normal(size=len(rows)), 0.0)
    write_run(root, "twin", "Twin", 0, twin, rows)
    return root


@pytest.fixture(scope="module")
def results(study):
    models, baseline = select_models([], ["dnn"], study=str(study), oracle=True)
    return compute_results(models, baseline, ReportOptions(resamples=300, seed=0))


def cell(panel, label: str, column: str) -> str:
    row = next(cells for _, cells in panel.rows if cells[0] == label)
    return row[panel.header.index(column)]


def test_aucs_reproduce_sklearn_per_scenario(study, results):
    predictions = pd.read_parquet(study / "dnn-seed0" / "predictions.parquet")
    test = predictions[predictions["split"] == "test"]
    summary = results.summary[results.summary["model"] == "DNN baseline"].set_index(["scenario", "metric"])
    for scenario, rows in test.groupby("scenario"):
        labels, scores = rows["label"], rows["score"]
        for metric, compute in (("roc_auc", roc_auc_score), ("pr_auc", average_precision_score)):
            assert summary.loc[(scenario, metric), "mean"] == pytest.approx(100 * compute(labels, scores), abs=1e-10)
    oracle = results.summary[results.summary["model"] == "Oracle (oracle_p)"]
    oracle = oracle.set_index(["scenario", "metric"])
    hotel = test[test["scenario"] == "Hotel"]
    expected = 100 * roc_auc_score(hotel["label"], hotel["oracle_p"])
    assert oracle.loc[("Hotel", "roc_auc"), "mean"] == pytest.approx(expected, abs=1e-10)


def test_scenarios_ordered_seen_first_and_unseen_marked(results):
    roc, pr = panels(results)
    assert roc.title == "ROC AUC (%)" and pr.title == "PR AUC (%)"
    assert roc.header == ["model", "Hotel", "Store", "Tours", "Clinic†", "mean (seen)"]
    assert [cells[0] for kind, cells in roc.rows if kind != "delta"][0] == "DNN baseline"
    assert results.unseen == {"Clinic"}


def test_significant_delta_marked_and_identical_not(results):
    roc = panels(results)[0]
    deltas = results.deltas[results.deltas["metric"] == "roc_auc"].set_index(["model", "scenario"])
    for scenario in ("Hotel", "Store", "Tours", "Clinic", "mean (seen)"):
        better, twin = deltas.loc[("AutoTask", scenario)], deltas.loc[("Twin", scenario)]
        assert better["significant"] and better["low"] > 0
        assert not twin["significant"] and twin["low"] <= 0 <= twin["high"]
        assert "*" in cell(roc, "Δ AutoTask", "Clinic†" if scenario == "Clinic" else scenario)
        assert "*" not in cell(roc, "Δ Twin", "Clinic†" if scenario == "Clinic" else scenario)


def test_mean_and_std_across_seeds(study, results):
    aucs = []
    for seed in (0, 1):
        p = pd.read_parquet(study / f"autotask-seed{seed}" / "predictions.parquet")
        hotel = p[(p["split"] == "test") & (p["scenario"] == "Hotel")]
        aucs.append(100 * roc_auc_score(hotel["label"], hotel["score"]))
    roc = panels(results)[0]
    assert cell(roc, "AutoTask (n=2)", "Hotel") == f"{np.mean(aucs):.2f} ± {np.std(aucs, ddof=1):.2f}"
    assert "±" not in cell(roc, "DNN baseline", "Hotel")


def test_score_column_syntax_and_missing_column(study):
    models, base = select_models([f"{study}/autotask-seed0:score_calibrated"], [str(study / "dnn-seed0")])
    assert [m.label for m in models] == ["DNN baseline", "AutoTask [score_calibrated]"]
    with pytest.raises(RunDirError, match=r"dnn-seed0.*'score_task_calibrated'"):
        select_models([str(study / "autotask-seed0")], [f"{study}/dnn-seed0:score_task_calibrated"])


def test_score_column_list_takes_each_runs_first_present_column(study, tmp_path):
    """--score-col score_paper,score: a run that wrote score_paper (AutoTask) is read under it, the DNN baseline
    under its score."""
    rows = dataset()
    paper = write_run(tmp_path, "autotask", "AutoTask", 0, rows["label"].to_numpy() - 0.5, rows)
    predictions = pd.read_parquet(paper / "predictions.parquet")
    predictions.assign(score_paper=predictions["score"]).to_parquet(paper / "predictions.parquet", index=False)
    models, base = select_models([str(paper)], [str(study / "dnn-seed0")], score_col="score_paper,score")
    assert {m.label: m.score_col for m in models} == {"DNN baseline": "score", "AutoTask [score_paper]": "score_paper"}
    write_run(tmp_path, "dnn", "DNN baseline", 0, rows["label"].to_numpy() - 0.2, rows)  # Table 3's layout:
    models, base = select_models([f"{paper}:score"], ["dnn"], study=str(tmp_path), score_col="score_paper,score")
    assert sorted(m.label for m in models) == ["AutoTask", "AutoTask [score_paper]", "DNN baseline"]


def test_report_folder_written_atomically(study, tmp_path):
    models, baseline = select_models([str(study / "twin-seed0")], [str(study / "dnn-seed0")])
    report = build_report(models, baseline, ReportOptions(resamples=50))
    out = write_report(report, tmp_path / "r")
    assert all((out / name).is_file() for name in FILES)
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(report.figures)
    with pytest.raises(RunDirError, match="--overwrite"):  # refused before anything is computed or written
        write_report(report, out)
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no staging folder left behind


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "runners/report.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_every_file(study, tmp_path):
    out = tmp_path / "reports" / "paper"
    done = run_cli("--study", str(study), "--baseline", "dnn", "--out", str(out), "--bootstrap", "200",
                   "--oracle")
    assert done.returncode == 0, done.stderr + done.stdout
    assert all((out / name).is_file() for name in FILES)
    assert "ROC AUC (%)" in done.stdout and "Clinic†" in done.stdout
    deltas = pd.read_csv(out / "deltas.csv")
    assert set(deltas["model"]) == {"AutoTask", "Twin", "Oracle (oracle_p)"}
    assert len(pd.read_csv(out / "roc_auc.csv")) == 4 * 5  # 4 models x (4 scenarios + mean over seen)


def test_cli_names_the_missing_predictions(study, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(study / "twin-seed0", broken)
    (broken / "predictions.parquet").unlink()
    done = run_cli(str(broken), "--baseline", str(study / "dnn-seed0"), "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "broken" in done.stdout and "predictions.parquet" in done.stdout
    assert not (tmp_path / "r").exists()

