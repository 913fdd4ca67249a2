"""Every contract breach, made by corrupting a copy of a real simulated dataset, is named: file, column, rows."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_ROWS, DatasetCopy, find_message, rows_in

from autotask.data import validate_dataset
from autotask.data.contract import ContractError, format_rows
from autotask.data.simulator import FEATURES, SEEN, UNSEEN


def _errors(copy: DatasetCopy) -> list[str]:
    report = validate_dataset(copy.path)
    assert not report.ok, "the corrupted dataset passed validation"
    return report.errors


def _rows_where(frame: pd.DataFrame, mask, n: int) -> np.ndarray:
    rows = np.flatnonzero(np.asarray(mask))
    assert len(rows) >= n
    return rows[np.linspace(0, len(rows) - 1, n).astype(int)]


def _assert_rows(message: str, expected) -> None:
    """The message lists the first offending rows (0-based, within the file) and counts the rest."""
    expected = sorted(int(r) for r in expected)
    shown = rows_in(message)
    assert shown == expected[: len(shown)], (shown, expected)
    assert len(shown) == min(len(expected), 5)
    if len(expected) > 5:
        assert f"(+{len(expected) - 5} more)" in message


def test_valid_dataset_passes_with_a_summary(sim_dataset):
    report = validate_dataset(sim_dataset)
    assert report.ok, report.errors
    assert report.n_rows == SMALL_ROWS
    assert set(report.summary["scenario"]) == {*SEEN, *UNSEEN}
    assert report.manifest.features == list(FEATURES)
    report.raise_if_invalid()


def test_format_rows():
    assert format_rows([3]) == "row 3"
    assert format_rows(range(8)) == "rows 0, 1, 2, 3, 4 (+3 more)"


@pytest.mark.parametrize("column", ["label", "split", "scenario"])
def test_missing_required_column(dataset_copy, column):
    dataset_copy.write(dataset_copy.frame().drop(columns=[column]))
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), f"'{column}'")
    assert "missing" in message


def test_missing_feature_column(dataset_copy):
    dataset_copy.write(dataset_copy.frame().drop(columns=["bm25"]))
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'bm25'")
    assert "missing" in message and "manifest" in message


def test_non_numeric_feature(dataset_copy):
    frame = dataset_copy.frame()
    bad = [5, 17, 99, 4000]
    values = frame["tfidf_cosine"].astype(str).astype(object)
    values.iloc[bad] = "n/a"
    frame["tfidf_cosine"] = values
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'tfidf_cosine'")
    assert "not numeric" in message and "n/a" in message
    _assert_rows(message, bad)


def test_nan_and_inf_feature(dataset_copy):
    frame = dataset_copy.frame()
    frame.loc[[3, 50], "embedding_cosine"] = np.nan
    frame.loc[[7], "embedding_cosine"] = np.inf
    frame.loc[[11], "embedding_cosine"] = -np.inf
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'embedding_cosine'")
    assert "NaN/inf" in message
    _assert_rows(message, [3, 7, 11, 50])


def test_hard_label_outside_0_1(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"] == "train", 7)
    label = frame["label"].astype("Float64")
    label.iloc[rows[:4]] = 2.0
    label.iloc[rows[4:6]] = -1.0
    label.iloc[rows[6:]] = 0.5
    frame["label"] = label
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'label'", "outside {0, 1}")
    _assert_rows(message, rows)


def test_hard_label_null_outside_the_pretrain_pool(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"] == "test", 3)
    frame.loc[rows, "label"] = pd.NA
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'label'", "null")
    _assert_rows(message, rows)


def test_soft_label_outside_unit_interval(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"] == "pretrain", 3)
    frame.loc[rows[0], "soft_label"] = 1.5
    frame.loc[rows[1], "soft_label"] = -0.2
    frame.loc[rows[2], "soft_label"] = np.inf
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'soft_label'", "[0, 1]")
    _assert_rows(message, rows)


def test_pool_row_with_neither_label(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"] == "pretrain", 2)
    frame.loc[rows, "soft_label"] = np.nan
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'soft_label'", "neither")
    _assert_rows(message, rows)


def test_unknown_split_value(dataset_copy):
    frame = dataset_copy.frame()
    rows = [2, 9]
    frame.loc[rows, "split"] = "holdout"
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'split'", "holdout")
    _assert_rows(message, rows)


def test_unseen_scenario_in_a_training_split(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"].isin(["pretrain", "train"]), 8)
    frame.loc[rows, "scenario"] = "Clinic"
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'scenario'", "Clinic", "training split")
    _assert_rows(message, rows)


def test_unknown_scenario(dataset_copy):
    frame = dataset_copy.frame()
    rows = _rows_where(frame, frame["split"] == "valid", 4)
    frame.loc[rows, "scenario"] = "Spaceship"
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'scenario'", "Spaceship", "unknown")
    _assert_rows(message, rows)


def test_query_in_two_splits(dataset_copy):
    frame = dataset_copy.frame()
    sizes = frame[frame["split"] == "train"].groupby("query_id").size()
    query = sizes[sizes >= 3].index[0]
    rows = np.flatnonzero(frame["query_id"] == query)
    frame.loc[rows[-1], "split"] = "valid"
    dataset_copy.write(frame)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'query_id'", str(query))
    assert "more than one split" in message
    _assert_rows(message, rows)


def _two_files(sim_dataset, sim_frame: pd.DataFrame, out) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The session dataset rewritten as two part files cut between queries (still valid), at `out`."""
    starts = np.flatnonzero(sim_frame["query_id"].diff().fillna(1).to_numpy() != 0)
    cut = int(starts[len(starts) // 3])
    first, second = sim_frame.iloc[:cut].reset_index(drop=True), sim_frame.iloc[cut:].reset_index(drop=True)
    (out / "data").mkdir(parents=True)
    shutil.copy(sim_dataset / "manifest.json", out / "manifest.json")
    first.to_parquet(out / "data" / "part-00000.parquet", index=False)
    second.to_parquet(out / "data" / "part-00001.parquet", index=False)
    return first, second


def test_query_in_two_splits_across_files(sim_dataset, sim_frame, tmp_path):
    """A query of file 0's train split reappears in file 1's test split: file 1's rows are named."""
    out = tmp_path / "two"
    first, second = _two_files(sim_dataset, sim_frame, out)
    assert validate_dataset(out).ok
    train_query = first.loc[first["split"] == "train", "query_id"].iloc[0]
    rows = np.flatnonzero((second["split"] == "test").to_numpy())[:2]
    second.loc[rows, "query_id"] = train_query
    second_path = out / "data" / "part-00001.parquet"
    second.to_parquet(second_path, index=False)
    message = find_message(validate_dataset(out).errors, str(second_path), "'query_id'", str(train_query))
    _assert_rows(message, rows)


def test_manifest_lists_a_feature_the_file_lacks(dataset_copy):
    raw = dataset_copy.manifest()
    raw["features"][0] = "bm25_v2"
    dataset_copy.write_manifest(raw)
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'bm25_v2'")
    assert "manifest lists it as a feature" in message


def test_file_renames_a_manifest_feature(dataset_copy):
    dataset_copy.write(dataset_copy.frame().rename(columns={"historical_ctr": "ctr"}))
    message = find_message(_errors(dataset_copy), str(dataset_copy.part), "'historical_ctr'")
    assert "missing column" in message


def test_manifest_stats_disagree_with_features(dataset_copy):
    raw = dataset_copy.manifest()
    raw["std"] = raw["std"][:-1]
    dataset_copy.write_manifest(raw)
    message = find_message(_errors(dataset_copy), str(dataset_copy.manifest_path), "'mean'/'std'")
    assert "12/11 values for 12 features" in message


def test_manifest_d_disagrees_with_its_features(dataset_copy):
    raw = dataset_copy.manifest()
    raw["d"] = 11
    dataset_copy.write_manifest(raw)
    find_message(_errors(dataset_copy), str(dataset_copy.manifest_path), "'d'", "12 features")


def test_manifest_stats_not_those_of_the_training_splits(dataset_copy):
    raw = dataset_copy.manifest()
    raw["mean"][2] += 1.0
    dataset_copy.write_manifest(raw)
    find_message(_errors(dataset_copy), "manifest.json", "'char_ngram_cosine'", "z-score")


def test_scenario_with_no_rows_in_test(dataset_copy):
    frame = dataset_copy.frame()
    in_test = (frame["scenario"] == "Cruise") & (frame["split"] == "test")
    dataset_copy.write(frame[~in_test])
    message = find_message(_errors(dataset_copy), str(dataset_copy.path), "'scenario'", "'Cruise'", "'test'")
    assert "no labelled rows" in message


def test_empty_scenario_listed_in_the_manifest(dataset_copy):
    raw = dataset_copy.manifest()
    raw["unseen"].append("Boat")
    dataset_copy.write_manifest(raw)
    message = find_message(_errors(dataset_copy), str(dataset_copy.path), "'scenario'", "'Boat'")
    assert "no rows" in message


def test_scenario_whose_rows_were_all_dropped(dataset_copy):
    frame = dataset_copy.frame()
    dataset_copy.write(frame[frame["scenario"] != "Home"])
    find_message(_errors(dataset_copy), str(dataset_copy.path), "'scenario'", "'Home'", "no rows")


def test_no_manifest(dataset_copy):
    dataset_copy.manifest_path.unlink()
    find_message(_errors(dataset_copy), str(dataset_copy.manifest_path), "no manifest.json")


def test_raise_if_invalid_carries_every_message(dataset_copy):
    frame = dataset_copy.frame()
    frame.loc[[1], "bm25"] = np.nan
    frame.loc[[2], "scenario"] = "Spaceship"
    dataset_copy.write(frame)
    report = validate_dataset(dataset_copy.path)
    with pytest.raises(ContractError) as caught:
        report.raise_if_invalid()
    assert len(caught.value.messages) == 2
    assert "'bm25'" in str(caught.value) and "Spaceship" in str(caught.value)
