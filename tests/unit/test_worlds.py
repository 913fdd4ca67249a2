"""Random worlds: each a valid contract dataset whose drawn mechanisms are recorded, with an unlabelled onboarding
sample of every unseen scenario that validation keeps unlabelled and training never reads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autotask.benchmarks.worlds import paired_comparison
from autotask.data.build import build_worlds
from autotask.data.contract import ONBOARD, ContractError
from autotask.data.io import read_frame
from autotask.data.validate import validate_dataset
from autotask.data.worlds import (
    MIN_SCENARIO_ROWS,
    ONBOARD_ROWS,
    SCENARIO_RANGE,
    WorldsConfig,
    generate_world,
    min_rows,
)
from autotask.runtime.ray_data import TRAIN_STAGES

CONFIG = WorldsConfig(count=3, seed=5, rows=min_rows())


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    out = tmp_path_factory.mktemp("worlds") / "w"
    reports = build_worlds(CONFIG, out)
    assert all(r.ok for r in reports), [r.errors for r in reports]
    return out


def test_same_seed_same_world_other_index_other_mechanisms():
    a, manifest_a, spec_a = generate_world(CONFIG, 0)
    b, manifest_b, spec_b = generate_world(CONFIG, 0)
    c, _, spec_c = generate_world(CONFIG, 1)
    pd.testing.assert_frame_equal(a, b)
    assert spec_a == spec_b and manifest_a == manifest_b
    assert spec_a != spec_c


def test_every_world_draws_within_the_ranges_and_records_them(worlds):
    record = json.loads((worlds / "worlds.json").read_text())
    assert record["source"]["count"] == 3 and len(record["worlds"]) == 3
    for spec in record["worlds"]:
        assert SCENARIO_RANGE[0] <= spec["seen"] <= SCENARIO_RANGE[1]
        assert {u["kind"] for u in spec["unseen"]} == {"mixture", "novel"}
        assert spec["rows"]["smallest_training_rows"] <= 300
        assert min(spec["rows"]["seen_sizes"]) >= MIN_SCENARIO_ROWS
        assert all(0.05 <= r <= 0.5 for r in spec["labels"]["positive_rate"])
        assert set(spec["features"]["transforms"]) <= {"raw", "similarity", "score", "flag", "count"}
        assert (spec["labels"]["teacher_noise"] is None) == (not spec["labels"]["pretrain_pool"])


def test_onboarding_rows_are_unlabelled_unseen_disjoint_from_test_and_never_trained_on(worlds):
    frame = read_frame(worlds / "world-00")
    manifest = validate_dataset(worlds / "world-00").manifest
    onboard = frame[frame["split"] == ONBOARD]
    assert set(onboard["scenario"]) == set(manifest.unseen)
    assert onboard["label"].isna().all() and onboard["soft_label"].isna().all()
    assert (onboard.groupby("scenario").size() >= ONBOARD_ROWS).all()
    test = frame[(frame["split"] == "test") & frame["scenario"].isin(manifest.unseen)]
    assert not set(onboard["query_id"]) & set(test["query_id"])
    assert ONBOARD not in {split for split, _ in TRAIN_STAGES.values()}
    assert frame.loc[frame["split"] == "test", "oracle_p"].notna().all()


def test_an_identical_build_is_reused_and_a_different_one_refused_before_writing(worlds, tmp_path):
    before = (worlds / "worlds.json").stat().st_mtime_ns
    build_worlds(CONFIG, worlds)
    assert (worlds / "worlds.json").stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="already exists"):
        build_worlds(WorldsConfig(count=2, seed=5, rows=min_rows()), worlds)
    with pytest.raises(ContractError, match="--count 0"):
        build_worlds(WorldsConfig(count=0), tmp_path / "none")
    with pytest.raises(ContractError, match="--rows 5,000: too few"):
        build_worlds(WorldsConfig(rows=5_000), tmp_path / "none")
    assert not (tmp_path / "none").exists()


def _write(frame: pd.DataFrame, dataset) -> None:
    frame.to_parquet(next((dataset / "data").glob("*.parquet")), index=False)


def test_validation_refuses_labels_or_seen_scenarios_in_the_onboarding_split(worlds, tmp_path):
    import shutil

    copy = tmp_path / "w0"
    shutil.copytree(worlds / "world-00", copy)
    frame = read_frame(copy)
    rows = np.flatnonzero((frame["split"] == ONBOARD).to_numpy())[:2]
    labelled = frame.copy()
    labelled.loc[rows, "label"] = 1
    _write(labelled, copy)
    errors = validate_dataset(copy).errors
    assert any(f"must be null in split '{ONBOARD}'" in e and f"rows {rows[0]}, {rows[1]}" in e for e in errors), errors
    seen = frame.copy()
    seen["scenario"] = seen["scenario"].astype(object)
    seen.loc[rows, "scenario"] = "S01"
    _write(seen, copy)
    errors = validate_dataset(copy).errors
    assert any("is for unseen scenarios" in e and "'S01'" in e for e in errors), errors


def test_paired_comparison_over_worlds():
    table = pd.DataFrame({"world": ["a", "b", "c", "a", "b", "c"], "model": ["X"] * 3 + ["Y"] * 3,
                          "seen": [80.0, 70.0, 60.0, 79.0, 71.0, 58.0]})
    result = paired_comparison(table, "X", "Y", "seen")
    assert result["worlds"] == 3 and result["mean_gap"] == pytest.approx((1 - 1 + 2) / 3)
    assert result["win_rate"] == pytest.approx(2 / 3)
    assert result["low"] <= result["mean_gap"] <= result["high"]
