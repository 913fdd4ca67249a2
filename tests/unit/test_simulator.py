"""The simulator: deterministic by seed, unseen scenarios kept out of training, an oracle worth beating."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from autotask.data import load_manifest, validate_dataset
from autotask.data.build import build_simulated
from autotask.data.io import read_frame
from autotask.data.simulator import FEATURES, SEEN, UNSEEN, SimulatorConfig, make_world, simulate_chunk, write_simulated

ORACLE_ROWS = 200_000
MIN_ORACLE_GAP = 0.015  # oracle ROC AUC above the pooled logistic regression's, in every seen scenario
MIN_LR_AUC = 0.55  # the pooled logistic regression's own ROC AUC, in every seen scenario


def _chunk(rows: int, seed: int) -> pd.DataFrame:
    config = SimulatorConfig(rows=rows, seed=seed)
    return simulate_chunk(config, 0, rows, make_world(seed))


def test_same_seed_same_frame_different_seed_different_frame():
    a, b, c = _chunk(5_000, seed=3), _chunk(5_000, seed=3), _chunk(5_000, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert list(c.columns) == list(a.columns)
    assert not np.allclose(a[list(FEATURES)].to_numpy(), c[list(FEATURES)].to_numpy())
    assert not a["scenario"].equals(c["scenario"])


def test_written_datasets_are_identical_by_seed(tmp_path):
    config = SimulatorConfig(rows=6_000, seed=11, chunk_rows=2_500)  # three chunks: 2500, 2500, 1000
    first = write_simulated(config, tmp_path / "a")
    second = write_simulated(config, tmp_path / "b")
    other = write_simulated(SimulatorConfig(rows=6_000, seed=12, chunk_rows=2_500), tmp_path / "c")
    assert first == second
    assert first.mean != other.mean
    a, b, c = read_frame(tmp_path / "a"), read_frame(tmp_path / "b"), read_frame(tmp_path / "c")
    assert len(a) == 6_000 and len(list((tmp_path / "a" / "data").glob("*.parquet"))) == 3
    pd.testing.assert_frame_equal(a, b)
    assert not a[list(FEATURES)].equals(c[list(FEATURES)])
    assert a["row_id"].tolist() == list(range(6_000))
    assert a["query_id"].is_unique is False  # queries hold several rows
    assert validate_dataset(tmp_path / "a").ok


def test_manifest_describes_the_dataset(sim_dataset, sim_frame):
    manifest = load_manifest(sim_dataset)
    assert manifest.features == list(FEATURES) and manifest.d == 12
    assert manifest.scenarios == list(SEEN) and manifest.n_tasks == 9
    assert manifest.unseen == list(UNSEEN)
    assert [manifest.task_id(s) for s in ("Hotel", "RealEstate", "Clinic")] == [1, 9, 0]
    training = sim_frame[sim_frame["split"].isin(["pretrain", "train"])][list(FEATURES)].to_numpy(np.float64)
    np.testing.assert_allclose(manifest.mean, training.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(manifest.std, training.std(axis=0), rtol=1e-6)
    z = manifest.standardize(training.astype(np.float32))
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)


def test_unseen_scenarios_only_in_test_and_every_scenario_in_test(sim_frame):
    training = sim_frame[sim_frame["split"].isin(["pretrain", "train"])]
    assert not training["scenario"].isin(UNSEEN).any()
    assert set(sim_frame.loc[sim_frame["scenario"].isin(UNSEEN), "split"]) == {"test"}
    assert set(training["scenario"]) == set(SEEN)
    test = sim_frame[sim_frame["split"] == "test"]
    assert set(test["scenario"]) == {*SEEN, *UNSEEN}
    assert test.groupby("scenario")["label"].nunique().min() == 2  # both classes everywhere in test
    for split in ("valid", "calib"):
        assert set(sim_frame.loc[sim_frame["split"] == split, "scenario"]) == set(SEEN)


def test_labels_and_oracle_columns(sim_frame):
    pool = sim_frame["split"] == "pretrain"
    assert sim_frame.loc[pool, "label"].isna().all() and sim_frame.loc[~pool, "label"].notna().all()
    assert set(sim_frame.loc[~pool, "label"].astype(int)) == {0, 1}
    soft = sim_frame.loc[pool, "soft_label"]
    assert soft.notna().all() and soft.between(0, 1).all() and sim_frame.loc[~pool, "soft_label"].isna().all()
    test = sim_frame["split"] == "test"
    oracle = sim_frame.loc[test, "oracle_p"]
    assert oracle.notna().all() and oracle.between(0, 1).all()
    assert sim_frame.loc[~test, "oracle_p"].isna().all()
    assert sim_frame.groupby("query_id")["split"].nunique().max() == 1
    assert sim_frame.groupby("query_id")["scenario"].nunique().max() == 1


def test_read_frame_filters_splits_even_without_the_split_column(sim_dataset, sim_frame):
    test = read_frame(sim_dataset, columns=["scenario", "oracle_p"], splits=["test"])
    assert len(test) == int((sim_frame["split"] == "test").sum()) and test["oracle_p"].notna().all()
    assert test["row_id"].tolist() == sim_frame.loc[sim_frame["split"] == "test", "row_id"].tolist()


def test_too_few_rows_is_refused():
    with pytest.raises(ValueError, match="at least 2000"):
        SimulatorConfig(rows=100)


@pytest.fixture(scope="module")
def oracle_vs_lr(tmp_path_factory) -> pd.DataFrame:
    """Per seen scenario: test ROC AUC of `oracle_p` and of a pooled logistic regression (200,000 rows)."""
    out = tmp_path_factory.mktemp("oracle") / "sim200k"
    write_simulated(SimulatorConfig(rows=ORACLE_ROWS, seed=0), out)
    manifest = load_manifest(out)
    frame = read_frame(out, columns=["scenario", "split", "label", "oracle_p", *manifest.features])
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    model = LogisticRegression(max_iter=2_000)
    model.fit(manifest.standardize(train[manifest.features].to_numpy()), train["label"].astype(int).to_numpy())
    score = model.predict_proba(manifest.standardize(test[manifest.features].to_numpy()))[:, 1]
    rows = []
    for scenario in SEEN:
        mask = (test["scenario"] == scenario).to_numpy()
        label = test.loc[mask, "label"].astype(int).to_numpy()
        rows.append(
            {
                "scenario": scenario,
                "n": int(mask.sum()),
                "oracle": roc_auc_score(label, test.loc[mask, "oracle_p"].to_numpy()),
                "lr": roc_auc_score(label, score[mask]),
            }
        )
    result = pd.DataFrame(rows).set_index("scenario")
    result["gap"] = result["oracle"] - result["lr"]
    return result


def test_oracle_beats_a_pooled_logistic_regression_in_every_seen_scenario(oracle_vs_lr):
    failing = oracle_vs_lr[oracle_vs_lr["gap"] < MIN_ORACLE_GAP]
    assert failing.empty, f"oracle gap below {MIN_ORACLE_GAP}:\n{oracle_vs_lr.round(3)}"


def test_pooled_logistic_regression_learns_something_in_every_seen_scenario(oracle_vs_lr):
    failing = oracle_vs_lr[oracle_vs_lr["lr"] < MIN_LR_AUC]
    assert failing.empty, f"LR ROC AUC below {MIN_LR_AUC}:\n{oracle_vs_lr.round(3)}"


def test_build_reuses_an_identical_build_and_refuses_a_different_one(tmp_path):
    out = tmp_path / "sim"
    assert build_simulated(SimulatorConfig(rows=3_000, seed=1), out).ok
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert build_simulated(SimulatorConfig(rows=3_000, seed=1), out).ok
    assert (out / "manifest.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_simulated(SimulatorConfig(rows=3_000, seed=2), out)
    assert load_manifest(out).source["seed"] == 1
    assert build_simulated(SimulatorConfig(rows=3_000, seed=2), out, overwrite=True).ok
    assert load_manifest(out).source["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["sim"]  # no staging or .old folders left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # shareable, not mkdtemp's 0700
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o666 & ~umask


def test_failed_build_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    import autotask.data.simulator as simulator

    real = simulator.simulate_chunk

    def failing(config, chunk, n_rows, world):
        if chunk == 1:  # part-00000 is already on disk by now
            raise RuntimeError("disk full (simulated)")
        return real(config, chunk, n_rows, world)

    monkeypatch.setattr(simulator, "simulate_chunk", failing)
    config = SimulatorConfig(rows=5_000, seed=0, chunk_rows=2_500)
    with pytest.raises(RuntimeError, match="disk full"):
        build_simulated(config, tmp_path / "sim")
    assert list(tmp_path.iterdir()) == []

    # Overwriting a good build with a failing one keeps the good one whole.
    monkeypatch.setattr(simulator, "simulate_chunk", real)
    assert build_simulated(SimulatorConfig(rows=3_000, seed=5), tmp_path / "sim").ok
    monkeypatch.setattr(simulator, "simulate_chunk", failing)
    with pytest.raises(RuntimeError):
        build_simulated(config, tmp_path / "sim", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["sim"]
    assert load_manifest(tmp_path / "sim").source["seed"] == 5 and validate_dataset(tmp_path / "sim").ok
