"""The LightGBM peer trained as one Ray task on the same splits, returning the same prediction columns."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import ray

from autotask.data.contract import LABEL, ROW_ID, SCENARIO, SOFT_LABEL, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.models.lightgbm_peer import LightGBMPeer
from autotask.training import outputs
from autotask.training.batches import FEATURES, TARGET, TASK_ID, to_model_inputs
from autotask.training.config import RunConfig


@ray.remote(num_cpus=1)
def _fit_remote(run_dict: dict, manifest_dict: dict) -> tuple[str, dict]:
    """Fit on pretrain (soft labels) + train (hard labels), early-stop on valid; returns model text and scores."""
    run = RunConfig.from_dict(run_dict)
    manifest = Manifest.from_dict(manifest_dict)
    columns = [ROW_ID, SCENARIO, SPLIT, LABEL, SOFT_LABEL, *manifest.features]
    train_rows = read_frame(run.data, columns=columns, splits=("pretrain", "train"))
    fit_inputs = to_model_inputs(train_rows, manifest, soft=True)
    frame, eval_inputs = outputs.read_eval_frame(run.data, manifest)
    valid = eval_inputs_for(frame, eval_inputs, "valid")
    peer = LightGBMPeer(seed=run.seed, **run.model_config)
    peer.fit(fit_inputs[FEATURES], fit_inputs[TASK_ID], fit_inputs[TARGET],
             valid=(valid[FEATURES], valid[TASK_ID], valid[TARGET]))
    scores = {"score": peer.predict_proba(eval_inputs[FEATURES], eval_inputs[TASK_ID])}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lightgbm.txt"
        peer.save(path)
        return path.read_text(), scores


def eval_inputs_for(frame, inputs: dict, split: str) -> dict:
    mask = (frame[SPLIT] == split).to_numpy()
    return {key: np.asarray(values)[mask] for key, values in inputs.items()}


def train_lightgbm(run: RunConfig, manifest: Manifest, run_dir: Path):
    """Run the fit as a Ray task; returns (predictions frame, model files)."""
    model_text, scores = ray.get(_fit_remote.remote(run.to_dict(), manifest.to_dict()))
    staging = run_dir / "model" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "lightgbm.txt").write_text(model_text)
    frame, inputs = outputs.read_eval_frame(run.data, manifest)
    return outputs.prediction_frame(frame, inputs, scores), {"lightgbm.txt": staging / "lightgbm.txt"}
