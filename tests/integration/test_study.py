"""Studies: runs as concurrent Ray tasks, each publishing to shared storage when one is given."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autotask.experiments.study import load_study, run_study, study_configs
from autotask.models.registry import kinds
from autotask.runtime.driver import Shell

pytestmark = pytest.mark.ray


# Kinds another default test already trains through Ray and a study (so this test need not pay for them again):
# AutoTask and LightGBM in test_train_ray.py and the tuned study of test_tune.py, the DNN in test_api.py.
TRAINED_ELSEWHERE = {"autotask", "dnn", "lightgbm"}


def test_every_registered_kind_trains_in_one_concurrent_study_and_publishes_its_run(ray_session, tiny_dataset,
                                                                                   tmp_path):
    """One epoch of every model kind the registry knows (but those trained through Ray by another test), as a study
    of concurrent Ray tasks: each writes the same run directory (scores, calibration, model files) and publishes it
    to shared storage. A kind registered later is trained here automatically."""
    study = tmp_path / "study.json"
    names = [name for name in kinds() if name not in TRAINED_ELSEWHERE]
    study.write_text(json.dumps({"runs": [{"name": name, "model": name} for name in names]}))
    configs = study_configs(load_study(str(study)), str(tiny_dataset), seeds=1,
                            training={"epochs_pretrain": 0, "epochs_finetune": 1})
    shared = tmp_path / "shared"
    finished = []
    run_dirs = run_study(configs, tmp_path / "out", concurrent=2, on_done=finished.append,
                         shell=Shell(storage=str(shared)))
    assert sorted(finished) == sorted(run_dirs) and len(run_dirs) == len(names) >= 3
    for name, config in configs.items():
        run_dir = tmp_path / "out" / name
        kind = kinds()[config.model]
        local = pd.read_parquet(run_dir / "metrics.parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(shared / name / "results" / "metrics.parquet"), local)
        predictions = pd.read_parquet(run_dir / "predictions.parquet")
        assert {*kind.score_columns} - {"score_context"} <= set(predictions.columns), name
        assert set(predictions["split"]) == {"valid", "calib", "test"} and predictions["score"].between(0, 1).all()
        if kind.is_torch:
            model_config = json.loads((run_dir / "model" / "model_config.json").read_text())
            assert model_config["kind"] == config.model and (run_dir / "model" / "weights.pt").exists()
    assert list((shared / "mmoe-seed0" / "train").glob("checkpoint_*")), "MMoE's checkpoints live in STORAGE"
