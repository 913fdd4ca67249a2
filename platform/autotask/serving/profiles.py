"""The rows a new scenario's profile is estimated from: its z-scored features in a dataset (labels unused)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autotask.data.contract import SCENARIO, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.data.validate import validate_dataset


def scenario_features(data: str, run_dir: str | Path, scenario: str, split: str) -> np.ndarray:
    """[rows, d] features of `scenario` in `split` of `data`, z-scored with the run's manifest; ValueError names the
    dataset, scenario and split when the scenario is seen (it needs no profile) or has no rows there."""
    manifest = load_manifest(Path(run_dir) / "model")
    if scenario in manifest.scenarios:
        raise ValueError(f"--scenario {scenario!r} is a seen scenario of {run_dir} (task id "
                         f"{manifest.scenarios.index(scenario) + 1}); only new scenarios get a profile")
    data_manifest = validate_dataset(data).raise_if_invalid().manifest
    if data_manifest.features != manifest.features:
        raise ValueError(f"{data}: features {data_manifest.features} differ from the run's {manifest.features}")
    frame = read_frame(data, columns=[SCENARIO, SPLIT, *manifest.features], splits=(split,))
    rows = frame[frame[SCENARIO].astype(str) == scenario]
    if rows.empty:
        raise ValueError(f"{data}: no rows of scenario {scenario!r} in split {split!r} to estimate its profile from")
    return manifest.standardize(rows[manifest.features].to_numpy(dtype=np.float32))
