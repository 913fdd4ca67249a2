"""Data and results on S3: a real S3 HTTP endpoint (moto's server on 127.0.0.1) reached through pyarrow's S3 client.

The runners get nothing but `s3://` URIs and the standard AWS variables (credentials, AWS_ENDPOINT_URL), as they
would on a cluster; Ray Data reads the Parquet and Ray Train/Tune write their checkpoints through the same client.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer

from autotask.data.contract import ContractError
from autotask.data.io import read_frame
from autotask.data.validate import validate_dataset
from autotask.location import Location, copy_folder

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3_env():
    """An S3 endpoint on loopback and the AWS variables that point pyarrow (here and in subprocesses) at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "autotask-test", "AWS_SECRET_ACCESS_KEY": "autotask-test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    for bucket in ("data", "runs"):
        Location.of(f"s3://{bucket}?allow_bucket_creation=true").filesystem.create_dir(bucket)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture(scope="module")
def s3_dataset(s3_env, tiny_dataset) -> str:
    copy_folder(tiny_dataset, Location.of("s3://data/tiny"))
    return "s3://data/tiny"


def _s3_files(uri: str) -> list[str]:
    location = Location.of(uri)
    infos = location.filesystem.get_file_info(pafs.FileSelector(location.path, recursive=True))
    return [info.path for info in infos if info.type == pafs.FileType.File]


def _runner(repo_root, env, *args) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, *map(str, args)], cwd=repo_root, capture_output=True, text=True,
                          timeout=400, env=full_env)


def test_dataset_on_s3_reads_like_the_local_copy(s3_dataset, tiny_dataset):
    report = validate_dataset(s3_dataset)
    assert report.ok, report.errors
    assert report.n_rows == validate_dataset(tiny_dataset).n_rows
    assert all(str(f).startswith("s3://data/tiny/") for f in report.files)
    pd.testing.assert_frame_equal(read_frame(s3_dataset), read_frame(tiny_dataset))


def test_contract_errors_on_s3_name_the_object(s3_env, tiny_dataset, tmp_path):
    copy = tmp_path / "bad"
    copy_folder(tiny_dataset, Location.of(copy))
    part = sorted(copy.rglob("*.parquet"))[0]
    frame = pd.read_parquet(part)
    frame.loc[[3, 8], "bm25"] = np.inf
    frame.to_parquet(part, index=False)
    copy_folder(copy, Location.of("s3://data/bad"))
    errors = validate_dataset("s3://data/bad").errors
    uri = f"s3://data/bad/{part.relative_to(copy).as_posix()}"
    assert any(uri in e and "'bm25'" in e and "rows 3, 8" in e for e in errors), errors
    missing = validate_dataset("s3://data/nothing-here").errors
    assert missing and "s3://data/nothing-here" in missing[0]
    with pytest.raises(ContractError, match="s3://data/nothing-here"):
        read_frame("s3://data/nothing-here")


def test_train_and_tune_runners_keep_results_on_s3(repo_root, s3_env, s3_dataset, tmp_path):
    trained = _runner(repo_root, s3_env, "runners/train.py", "--data", s3_dataset, "--model", "autotask",
                      "--epochs-pretrain", "1", "--epochs-finetune", "1", "--out", tmp_path / "run",
                      "--storage", "s3://runs/autotask")
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    files = _s3_files("s3://runs/autotask")
    assert any("/train/checkpoint_" in f and f.endswith("best_model.pt") for f in files), files
    published = Location.of("s3://runs/autotask/results/metrics.parquet")
    with published.filesystem.open_input_file(published.path) as stream:
        pd.testing.assert_frame_equal(pd.read_parquet(stream), pd.read_parquet(tmp_path / "run" / "metrics.parquet"))
    assert not any("/results/ray/" in f for f in files), "the local Ray folder is not published"

    searched = _runner(repo_root, s3_env, "runners/tune.py", "--data", s3_dataset, "--space",
                       "search_spaces/autotask.py", "--trials", "1", "--epochs-pretrain", "1", "--epochs-finetune", "1",
                       "--out", tmp_path / "tune", "--storage", "s3://runs/tune")
    assert searched.returncode == 0, searched.stdout[-2000:] + searched.stderr[-3000:]
    files = _s3_files("s3://runs/tune")
    assert "runs/tune/results/trials.parquet" in files and "runs/tune/results/best_config.json" in files
    assert any(f.startswith("runs/tune/search/") and "experiment_state" in f for f in files), files
    # a 1-worker trial trains in its own process: its checkpoints are Tune's, in its trial folder under search/
    assert any(f.startswith("runs/tune/search/run_trial_") and f.endswith("best_model.pt") for f in files), files
    assert not (tmp_path / "tune" / "ray").exists(), "with --storage nothing of Tune's stays on local disk"
