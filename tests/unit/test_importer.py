"""`import`: a user's table into the contract; the simulated dataset survives a CSV round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import find_message, rows_in

from autotask.data import ContractError, load_manifest, validate_dataset
from autotask.data.importer import ImportSpec, import_table
from autotask.data.io import read_frame
from autotask.data.simulator import FEATURES, SEEN, UNSEEN
from autotask.data.splits import assign_splits

USER_NAMES = {"scenario": "ad_type", "label": "is_relevant", "soft_label": "teacher_p", "split": "fold"}


@pytest.fixture(scope="module")
def exported_csv(sim_frame, tmp_path_factory):
    """The session dataset as a user's CSV: its own column names, features in the dataset's order."""
    path = tmp_path_factory.mktemp("csv") / "pairs.csv"
    sim_frame.rename(columns=USER_NAMES).to_csv(path, index=False)
    return path


def _spec(path, **overrides) -> ImportSpec:
    base = dict(
        input=path,
        scenario_col="ad_type",
        label_col="is_relevant",
        soft_label_col="teacher_p",
        split_col="fold",
        unseen=tuple(UNSEEN),
        scenario_order=list(SEEN),
    )
    return ImportSpec(**{**base, **overrides})


def test_csv_round_trip_gives_an_equivalent_dataset(sim_dataset, sim_frame, exported_csv, tmp_path):
    out = tmp_path / "imported"
    manifest = import_table(_spec(exported_csv), out)
    original = load_manifest(sim_dataset)
    assert manifest.features == original.features == list(FEATURES)
    assert manifest.scenarios == original.scenarios and manifest.unseen == original.unseen
    np.testing.assert_allclose(manifest.mean, original.mean, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(manifest.std, original.std, rtol=1e-4)
    assert load_manifest(out) == manifest and validate_dataset(out).ok

    imported = read_frame(out)
    assert len(imported) == len(sim_frame)
    assert imported["row_id"].tolist() == sim_frame["row_id"].tolist()
    for column in ("scenario", "split"):
        assert imported[column].tolist() == sim_frame[column].tolist(), column
    pd.testing.assert_series_equal(
        imported["label"].astype("Float64"), sim_frame["label"].astype("Float64"), check_names=False
    )
    np.testing.assert_array_equal(imported[list(FEATURES)].to_numpy(), sim_frame[list(FEATURES)].to_numpy())
    assert imported[list(FEATURES)].dtypes.eq(np.float32).all()
    np.testing.assert_allclose(imported["soft_label"], sim_frame["soft_label"], rtol=1e-6)
    np.testing.assert_allclose(imported["oracle_p"], sim_frame["oracle_p"], rtol=1e-9)


def test_default_scenario_order_is_sorted_and_features_can_be_chosen(exported_csv, tmp_path):
    chosen = ["historical_ctr", "bm25", "exact_match"]
    manifest = import_table(_spec(exported_csv, scenario_order=None, features=chosen), tmp_path / "out")
    assert manifest.scenarios == sorted(SEEN)
    assert manifest.features == chosen
    assert manifest.unseen == list(UNSEEN)


def _labelled_table(sim_frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with hard labels, without splits: a user's table split by query."""
    table = sim_frame[sim_frame["label"].notna()].drop(columns=["split", "soft_label", "oracle_p", "row_id"])
    return table.rename(columns={"query_id": "qid"}).reset_index(drop=True)


def test_group_splits_keep_each_query_in_one_split(sim_frame, tmp_path):
    table = _labelled_table(sim_frame)
    # A query mixing a seen scenario with an unseen one must land in test whole.
    mixed = table.loc[table["scenario"] == "Hotel", "qid"].value_counts().index[0]
    first_row = table.index[table["qid"] == mixed][0]
    table.loc[first_row, "scenario"] = "Clinic"
    path = tmp_path / "pairs.parquet"
    table.to_parquet(path, index=False)
    spec = ImportSpec(
        input=path, scenario_col="scenario", label_col="label", group_col="qid", unseen=("Clinic", "Home"), seed=1
    )
    manifest = import_table(spec, tmp_path / "out")
    assert manifest.features == list(FEATURES)  # the group column is not a feature
    frame = read_frame(tmp_path / "out")
    assert frame.groupby("query_id")["split"].nunique().max() == 1
    assert set(frame.loc[frame["query_id"] == mixed, "split"]) == {"test"}
    assert set(frame.loc[frame["scenario"].isin(UNSEEN), "split"]) == {"test"}
    shares = frame.loc[~frame["scenario"].isin(UNSEEN), "split"].value_counts(normalize=True)
    assert set(shares.index) == {"train", "valid", "calib", "test"}
    assert 0.5 < shares["train"] < 0.7

    again = import_table(spec, tmp_path / "again")
    assert read_frame(tmp_path / "again")["split"].tolist() == frame["split"].tolist()
    assert again == manifest
    other = import_table(ImportSpec(**{**spec.__dict__, "seed": 2}), tmp_path / "other")
    assert read_frame(tmp_path / "other")["split"].tolist() != frame["split"].tolist()
    assert other.features == manifest.features


def test_group_splits_put_teacher_only_rows_in_the_pretrain_pool(sim_frame, tmp_path):
    table = sim_frame.drop(columns=["split", "oracle_p", "row_id"]).rename(columns={"query_id": "qid"})
    path = tmp_path / "pairs.parquet"
    table.to_parquet(path, index=False)
    spec = ImportSpec(
        input=path,
        scenario_col="scenario",
        label_col="label",
        soft_label_col="soft_label",
        group_col="qid",
        unseen=tuple(UNSEEN),
        scenario_order=list(SEEN),
    )
    manifest = import_table(spec, tmp_path / "out")
    frame = read_frame(tmp_path / "out")
    pool = (frame["split"] == "pretrain").to_numpy()
    np.testing.assert_array_equal(pool, sim_frame["label"].isna().to_numpy())
    assert frame.groupby("query_id")["split"].nunique().max() == 1
    assert manifest.scenarios == list(SEEN) and manifest.unseen == list(UNSEEN)


def test_assign_splits_is_stable_under_row_order():
    groups = pd.Series([f"q{i // 3}" for i in range(3000)])
    unseen = np.zeros(3000, dtype=bool)
    split = assign_splits(groups, unseen, seed=0)
    order = np.random.default_rng(0).permutation(3000)
    shuffled = assign_splits(groups.iloc[order].reset_index(drop=True), unseen[order], seed=0)
    assert shuffled.tolist() == split[order].tolist()
    assert pd.Series(split).groupby(groups).nunique().max() == 1


def test_missing_column_is_named(exported_csv, tmp_path):
    with pytest.raises(ContractError) as caught:
        import_table(_spec(exported_csv, scenario_col="ad_typo"), tmp_path / "out")
    message = find_message(caught.value.messages, str(exported_csv), "'ad_typo'")
    assert "missing column" in message
    with pytest.raises(ContractError, match="'bm25_v2'"):
        import_table(_spec(exported_csv, features=["bm25", "bm25_v2"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_non_numeric_feature_is_named_with_rows(sim_frame, tmp_path):
    table = sim_frame.rename(columns=USER_NAMES)
    values = table["query_coverage"].astype(object)
    values.iloc[[4, 40, 400]] = "high"
    table["query_coverage"] = values
    path = tmp_path / "pairs.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path, features=list(FEATURES)), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "'query_coverage'", "not numeric")
    assert "high" in message and rows_in(message) == [4, 40, 400]
    assert not (tmp_path / "out").exists()


def test_empty_scenario_cells_are_named_with_rows(sim_frame, tmp_path):
    table = sim_frame.rename(columns=USER_NAMES)
    table.loc[[8, 80], "ad_type"] = None
    path = tmp_path / "pairs.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "'ad_type'", "empty")
    assert rows_in(message) == [8, 80]


def test_bad_labels_are_named_in_the_inputs_terms_and_nothing_is_published(sim_frame, tmp_path):
    table = sim_frame.rename(columns=USER_NAMES)
    bad = np.flatnonzero((table["fold"] == "train").to_numpy())[:3]
    label = table["is_relevant"].astype("Float64")
    label.iloc[bad] = 2.0
    table["is_relevant"] = label
    path = tmp_path / "pairs.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "'label' (input column 'is_relevant')")
    assert rows_in(message) == bad.tolist()
    assert list(tmp_path.iterdir()) == [path]  # no output folder, no staging folder


def test_unseen_scenario_in_a_given_training_split_is_named(sim_frame, tmp_path):
    table = sim_frame.rename(columns=USER_NAMES)
    rows = np.flatnonzero((table["fold"] == "train").to_numpy())[:2]
    table.loc[rows, "ad_type"] = "Home"
    path = tmp_path / "pairs.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "input column 'ad_type'", "Home")
    assert rows_in(message) == rows.tolist()


def test_unknown_unseen_and_incomplete_scenario_order_are_refused(exported_csv, tmp_path):
    with pytest.raises(ContractError, match="Garden"):
        import_table(_spec(exported_csv, unseen=("Garden",)), tmp_path / "a")
    with pytest.raises(ContractError, match="Cruise"):
        import_table(_spec(exported_csv, scenario_order=[s for s in SEEN if s != "Cruise"]), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_unless_overwrite(exported_csv, tmp_path):
    out = tmp_path / "out"
    import_table(_spec(exported_csv), out)
    with pytest.raises(FileExistsError):
        import_table(_spec(exported_csv), out)
    import_table(_spec(exported_csv, scenario_order=None), out, overwrite=True)
    assert load_manifest(out).scenarios == sorted(SEEN)
