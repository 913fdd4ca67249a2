"""The rows a new scenario's profile is estimated from: its z-scored features in a dataset (labels unused)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from autotask.data.contract import ONBOARD, SCENARIO, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.data.validate import validate_dataset
from autotask.models.language import reads_language
from autotask.training.batches import input_columns, model_features


def scenario_features(data: str, run_dir: str | Path, scenario: str, split: str | None = None) -> np.ndarray:
    """[rows, d] features of `scenario` in `split` of `data` (None: the onboarding sample when the data has one for
    the scenario, else 'test'), z-scored with the run's manifest (then the text embeddings when the run's model reads
    them); ValueError names the dataset, scenario and split when the scenario is seen (it needs no profile) or has no
    rows there."""
    manifest = load_manifest(Path(run_dir) / "model")
    language = reads_language(json.loads((Path(run_dir) / "model" / "model_config.json").read_text()))
    if scenario in manifest.scenarios:
        raise ValueError(f"--scenario {scenario!r} is a seen scenario of {run_dir} (task id "
                         f"{manifest.scenarios.index(scenario) + 1}); only new scenarios get a profile")
    data_manifest = validate_dataset(data).raise_if_invalid().manifest
    if data_manifest.features != manifest.features:
        raise ValueError(f"{data}: features {data_manifest.features} differ from the run's {manifest.features}")
    frame = read_frame(data, columns=[SCENARIO, SPLIT, *input_columns(manifest, language)],
                       splits=(split,) if split else (ONBOARD, "test"))
    frame = frame[frame[SCENARIO].astype(str) == scenario]
    if split is None:
        split = ONBOARD if (frame[SPLIT] == ONBOARD).any() else "test"
    rows = frame[frame[SPLIT] == split]
    if rows.empty:
        raise ValueError(f"{data}: no rows of scenario {scenario!r} in split {split!r} to estimate its profile from")
    return model_features(rows, manifest, language)
