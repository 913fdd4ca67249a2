"""Studies: runs as concurrent Ray tasks, each publishing to shared storage when one is given."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autotask.experiments.study import load_study, run_study, study_configs

pytestmark = pytest.mark.ray


def test_study_runs_concurrently_and_publishes_each_run(ray_session, tiny_dataset, tmp_path):
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"runs": [{"name": "dnn", "model": "dnn"}, {"name": "lgb", "model": "lightgbm"}]}))
    configs = study_configs(load_study(str(study)), str(tiny_dataset), seeds=1,
                            training={"epochs_pretrain": 1, "epochs_finetune": 1})
    shared = tmp_path / "shared"
    finished = []
    run_dirs = run_study(configs, tmp_path / "out", concurrent=2, on_done=finished.append, storage=str(shared))
    assert sorted(finished) == sorted(run_dirs) and len(run_dirs) == 2
    for name in configs:
        local = pd.read_parquet(tmp_path / "out" / name / "metrics.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(shared / name / "results" / "metrics.parquet"), local)
    assert list((shared / "dnn-seed0" / "train").glob("checkpoint_*")), "the DNN's checkpoints live in STORAGE"
