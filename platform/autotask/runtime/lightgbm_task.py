"""The LightGBM peer trained as one Ray task on the same splits, returning the same prediction columns; the same fit
runs inside a Tune trial (no Train worker group) when LightGBM is searched."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import ray

from autotask.config import RunConfig
from autotask.data.contract import LABEL, ROW_ID, SCENARIO, SOFT_LABEL, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.evaluation.selection import mean_seen_roc_auc
from autotask.models.language import reads_language
from autotask.models.lightgbm_peer import (
    LANGUAGE_COMPONENTS,
    LANGUAGE_FIELDS,
    LightGBMParams,
    LightGBMPeer,
    TextReducer,
)
from autotask.training import outputs
from autotask.training.batches import FEATURES, TARGET, TASK_ID, input_columns, to_model_inputs


def fit_lightgbm(run: RunConfig, manifest: Manifest) -> tuple[dict[str, bytes], dict, float]:
    """Fit on pretrain (soft labels) + train (hard labels), early-stop on valid. Returns the model files' bytes
    (lightgbm.txt, and text_pca.npz when it reads language), the eval splits' scores and the validation metric
    (mean seen ROC AUC, as torch runs select on)."""
    language = reads_language(run.model_config)
    columns = [ROW_ID, SCENARIO, SPLIT, LABEL, SOFT_LABEL, *input_columns(manifest, language)]
    train_rows = read_frame(run.data, columns=columns, splits=("pretrain", "train"))
    fit_inputs = to_model_inputs(train_rows, manifest, soft=True, language=language)
    frame, eval_inputs = outputs.read_eval_frame(run.data, manifest, language)
    valid = eval_inputs_for(frame, eval_inputs, "valid")
    params = {k: v for k, v in run.model_config.items() if k not in LANGUAGE_FIELDS}
    reducer = TextReducer(run.model_config.get("language_components", LANGUAGE_COMPONENTS)) if language else None
    if reducer is not None:
        reducer.fit(fit_inputs[FEATURES][:, manifest.d:])

    def design(inputs: dict) -> np.ndarray:
        features = inputs[FEATURES]
        if reducer is None:
            return features
        return np.hstack([features[:, : manifest.d], reducer.transform(features[:, manifest.d:])])

    peer = LightGBMPeer(seed=run.seed, settings=LightGBMParams(**params))
    peer.fit(design(fit_inputs), fit_inputs[TASK_ID], fit_inputs[TARGET],
             valid=(design(valid), valid[TASK_ID], valid[TARGET]))
    scores = {"score": peer.predict_proba(design(eval_inputs), eval_inputs[TASK_ID])}
    valid_scores = scores["score"][(frame[SPLIT] == "valid").to_numpy()]
    valid_auc = mean_seen_roc_auc(valid[TARGET], valid_scores, valid[TASK_ID])
    with tempfile.TemporaryDirectory() as tmp:
        peer.save(Path(tmp) / "lightgbm.txt")
        if reducer is not None:
            reducer.save(Path(tmp) / "text_pca.npz")
        return {path.name: path.read_bytes() for path in Path(tmp).iterdir()}, scores, valid_auc


@ray.remote(num_cpus=1)
def _fit_remote(run_dict: dict, manifest_dict: dict) -> tuple[dict[str, bytes], dict]:
    files, scores, _ = fit_lightgbm(RunConfig.from_dict(run_dict), Manifest.from_dict(manifest_dict))
    return files, scores


def eval_inputs_for(frame, inputs: dict, split: str) -> dict:
    mask = (frame[SPLIT] == split).to_numpy()
    return {key: np.asarray(values)[mask] for key, values in inputs.items()}


def train_lightgbm(run: RunConfig, manifest: Manifest, run_dir: Path):
    """Run the fit as a Ray task; returns (predictions frame, model files)."""
    files, scores = ray.get(_fit_remote.remote(run.to_dict(), manifest.to_dict()))
    staging = run_dir / "model" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (staging / name).write_bytes(content)
    frame, inputs = outputs.read_eval_frame(run.data, manifest)  # ids and labels only: no language columns needed
    return outputs.prediction_frame(frame, inputs, scores), {name: staging / name for name in files}
