"""MLflow tracking against a real tracking server (SQLite store): a trained run, a study, a search, read back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest

from autotask.commands import compare, train, tune
from autotask.tracking import ENV, PARENT_TAG, RECORD

pytestmark = pytest.mark.ray

TRAIN_ARGS = ["--model", "autotask", "--e1", "4", "--epochs-pretrain", "1", "--epochs-finetune", "1", "--workers", "1"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with a SQLite backend store; yields its URL."""
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 - open for the server's lifetime
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop(ENV, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            os.killpg(process.pid, signal.SIGKILL) if process.poll() is None else None
            pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    os.killpg(process.pid, signal.SIGTERM)  # the server's own process group (uvicorn runs under it)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def client(server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(server)


def _runs(client, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def _test_metrics(run_dir) -> pd.DataFrame:
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    return metrics[(metrics["split"] == "test") & (metrics["score_col"] == "score")]


@pytest.fixture(scope="module")
def tracked_run(ray_session, tiny_dataset, server, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tracked") / "autotask"
    assert train.main(["--data", str(tiny_dataset), "--out", str(run_dir), *TRAIN_ARGS, "--tracking-uri", server,
                       "--experiment", "train-exp"]) == 0
    return run_dir


def test_train_logs_params_epochs_test_metrics_and_artifacts(tracked_run, tiny_dataset, server, client):
    run_id = json.loads((tracked_run / RECORD).read_text())[server]["run_id"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "autotask"
    params = run.data.params
    assert params["model"] == "autotask" and params["model_config.e1"] == "4"
    assert params["training.epochs_pretrain"] == "1" and params["training.lr_head"] == "0.002"
    assert run.data.tags["provenance.python"] and "provenance.code.commit" in run.data.tags

    history = json.loads((tracked_run / "model" / "history.json").read_text())["history"]
    assert [e["epoch"] for e in history] == [0, 1]
    for key in ("train_loss", "valid_roc_auc"):
        logged = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert [step for step, _ in logged] == [0, 1]
        assert [value for _, value in logged] == pytest.approx([e[key] for e in history])

    test = _test_metrics(tracked_run)
    assert len(test) >= 10
    for scenario, auc in zip(test["scenario"], test["roc_auc"], strict=True):
        assert run.data.metrics[f"test.roc_auc.{scenario}"] == pytest.approx(auc)
    assert run.data.metrics["test.roc_auc.mean_seen"] == pytest.approx(test[test["seen"]]["roc_auc"].mean())

    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.json", "metrics.parquet", "data.json", "model"} <= top
    assert "model/history.json" in {a.path for a in client.list_artifacts(run_id, "model")}
    local = client.download_artifacts(run_id, "metrics.parquet", str(tracked_run.parent))
    pd.testing.assert_frame_equal(pd.read_parquet(local), pd.read_parquet(tracked_run / "metrics.parquet"))

    # Re-running the finished run reuses it and logs nothing new there.
    assert train.main(["--data", str(tiny_dataset), "--out", str(tracked_run), *TRAIN_ARGS, "--tracking-uri", server,
                       "--experiment", "train-exp"]) == 0
    assert [r.info.run_id for r in _runs(client, "train-exp")] == [run_id]


def test_untracked_run_never_imports_mlflow(tracked_run, tiny_dataset, server):
    """Without --tracking-uri or MLFLOW_TRACKING_URI: nothing logged, mlflow not even imported (a reused run)."""
    record = (tracked_run / RECORD).read_text()
    script = ("import sys\nfrom autotask.commands import compare, train, tune\nimport autotask.tracking\n"
              f"assert train.main({['--data', str(tiny_dataset), '--out', str(tracked_run), *TRAIN_ARGS]!r}) == 0\n"
              "print('MLFLOW_IMPORTED', 'mlflow' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != ENV}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MLFLOW_IMPORTED False" in done.stdout
    assert (tracked_run / RECORD).read_text() == record


def test_unreachable_server_is_refused_before_training(tiny_dataset, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}"
    assert train.main(["--data", str(tiny_dataset), "--out", str(tmp_path / "run"), *TRAIN_ARGS,
                       "--tracking-uri", url]) != 0
    assert not (tmp_path / "run" / "config.json").exists()


def test_compare_logs_a_parent_with_a_child_per_run(ray_session, tiny_dataset, server, client, tmp_path,
                                                    monkeypatch):
    monkeypatch.setenv(ENV, server)  # the environment variable is the default tracking URI
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"runs": [{"name": "lgb", "model": "lightgbm"}]}))
    out = tmp_path / "study"
    argv = ["--data", str(tiny_dataset), "--study", str(study), "--out", str(out), "--seeds", "2", "--concurrent", "2",
            "--experiment", "study-exp"]
    assert compare.main(argv) == 0
    parent_id = json.loads((out / RECORD).read_text())[server]["run_id"]
    runs = _runs(client, "study-exp")
    children = {r.info.run_name: r for r in runs if r.data.tags.get(PARENT_TAG) == parent_id}
    assert len(runs) == 3 and sorted(children) == ["lgb-seed0", "lgb-seed1"]
    assert client.get_run(parent_id).data.params["study.runs"] == "lgb-seed0,lgb-seed1"
    assert "study.json" in {a.path for a in client.list_artifacts(parent_id)}
    for name, child in children.items():
        assert child.info.run_id == json.loads((out / name / RECORD).read_text())[server]["run_id"]
        assert child.data.params["seed"] == name[-1] and child.data.params["model"] == "lightgbm"
        test = _test_metrics(out / name)
        assert child.data.metrics["test.roc_auc.mean_seen"] == pytest.approx(test[test["seen"]]["roc_auc"].mean())
    assert compare.main(argv) == 0  # reused: nothing logged twice
    assert len(_runs(client, "study-exp")) == 3


def test_tune_logs_a_parent_with_a_child_per_trial(ray_session, repo_root, tiny_dataset, server, client, tmp_path):
    out = tmp_path / "search"
    assert tune.main(["--data", str(tiny_dataset), "--space", str(repo_root / "search_spaces" / "dnn.py"),
                      "--trials", "1", "--scheduler", "none", "--epochs-pretrain", "1",
                      "--epochs-finetune", "1", "--out", str(out), "--tracking-uri", server,
                      "--experiment", "tune-exp"]) == 0
    parent_id = json.loads((out / RECORD).read_text())[server]["run_id"]
    parent = client.get_run(parent_id)
    trials = pd.read_parquet(out / "trials.parquet")
    assert parent.data.params["search.trials"] == "1"
    assert parent.data.metrics["best_valid_roc_auc"] == pytest.approx(trials["best_valid_roc_auc"].max())
    assert {"trials.parquet", "best_config.json", "search.json"} <= {a.path for a in client.list_artifacts(parent_id)}
    children = {r.data.tags["autotask.trial_id"]: r for r in _runs(client, "tune-exp")
                if r.data.tags.get(PARENT_TAG) == parent_id}
    assert len(trials) == 1 and sorted(children) == sorted(trials["trial_id"])  # 1 trial: ~20 s
    for _, row in trials.iterrows():
        child = children[row["trial_id"]]
        assert float(child.data.params["lr_head"]) == pytest.approx(row["lr_head"])
        assert child.data.params["width"] == str(row["width"])
        assert child.data.metrics["best_valid_roc_auc"] == pytest.approx(row["best_valid_roc_auc"])
        epochs = client.get_metric_history(child.info.run_id, "valid_roc_auc")
        assert sorted(m.step for m in epochs) == [0, 1]
        assert max(m.value for m in epochs) == pytest.approx(row["best_valid_roc_auc"])
