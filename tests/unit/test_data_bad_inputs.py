"""Bad input in the data layer: every case is a ContractError (runner exit 2) naming the file, column and rows,
and a failed import or build leaves nothing behind (no output folder, no staging folder). Small synthetic inputs,
no Ray."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT, find_message, rows_in

from autotask.data import validate_dataset
from autotask.data.contract import ContractError
from autotask.data.importer import ImportSpec, import_table
from autotask.data.text import LabelScale, TextSpec, build_text_dataset

ROWS = 400
FOLDS = ("train", "train", "train", "pretrain", "valid", "calib", "test", "test")


def _runner():
    spec = importlib.util.spec_from_file_location("build_data_runner", REPO_ROOT / "runners" / "build_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD_DATA = _runner()


def run(capsys, *argv) -> tuple[int, str]:
    code = BUILD_DATA.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # one line: rich may wrap long messages


def _table(rows: int = ROWS) -> pd.DataFrame:
    """A valid user table: two scenarios, every split, both classes everywhere, two numeric features."""
    i = np.arange(rows)
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "ad_type": np.where(i % 2 == 0, "Hotel", "Store"),
            "y": (i // 2) % 2,
            "fold": [FOLDS[(k // 4) % len(FOLDS)] for k in i],
            "f1": rng.normal(size=rows).round(4),
            "f2": rng.uniform(size=rows).round(4),
        }
    )


def _spec(path: Path, **overrides) -> ImportSpec:
    return ImportSpec(**{"input": path, "scenario_col": "ad_type", "label_col": "y", "split_col": "fold", **overrides})


IMPORT_FLAGS = ("--scenario-col", "ad_type", "--label-col", "y", "--split-col", "fold")


def _csv(tmp_path: Path, table: pd.DataFrame, name: str = "pairs.csv", **options) -> Path:
    path = tmp_path / name
    table.to_csv(path, index=False, **options)
    return path


def _nothing_left(tmp_path: Path, *inputs: Path) -> None:
    """Only the inputs remain: no output folder, no hidden staging folder."""
    assert sorted(tmp_path.iterdir()) == sorted(inputs)


@pytest.fixture
def dataset(tmp_path) -> Path:
    out = tmp_path / "ds"
    import_table(_spec(_csv(tmp_path, _table())), out)
    assert validate_dataset(out).ok
    return out


def _part(dataset: Path) -> Path:
    return dataset / "data" / "part-00000.parquet"


def _rewrite(dataset: Path, change) -> Path:
    frame = pd.read_parquet(_part(dataset))
    change(frame)
    frame.to_parquet(_part(dataset), index=False)
    return _part(dataset)


# 1. an unparsable cell is refused by name (the column used to be dropped without a word)


@pytest.mark.parametrize("features", [None, ["f1", "f2"]])
def test_unparsable_feature_cell_is_named_not_dropped(tmp_path, features):
    table = _table()
    table["f1"] = table["f1"].astype(object)
    table.loc[[3, 7], "f1"] = "1,5"
    path = _csv(tmp_path, table)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path, features=features), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "'f1'", "not numeric")
    assert "1,5" in message and rows_in(message) == [3, 7]
    _nothing_left(tmp_path, path)


def test_a_text_column_is_still_not_a_feature(tmp_path):
    table = _table().assign(note=[f"pair {i}" for i in range(ROWS)])
    table.loc[5, "note"] = "12"  # one number among words: a text column, not a broken feature
    manifest = import_table(_spec(_csv(tmp_path, table)), tmp_path / "out")
    assert manifest.features == ["f1", "f2"]


def _text_input(tmp_path: Path, change=None) -> Path:
    table = pd.DataFrame(
        {
            "q": [f"query {i // 3}" for i in range(60)],
            "o": [f"offer {i} lamp" for i in range(60)],
            "g": [1 + i % 3 for i in range(60)],
            "s": ["A" if i % 2 else "B" for i in range(60)],
        }
    )
    if change:
        change(table)
    return _csv(tmp_path, table, "text.csv")


def _text_spec(path: Path, **overrides) -> TextSpec:
    base = {"input": path, "query_col": "q", "offer_col": "o", "label_col": "g", "label_scale": LabelScale(1, 3)}
    return TextSpec(**{**base, **overrides})


def _set(column, rows, value):
    def change(table):
        table[column] = table[column].astype(object)
        table.loc[rows, column] = value

    return change


@pytest.mark.parametrize(
    "column, change, overrides, needle",
    [
        ("q", _set("q", [4, 9], ""), {}, "empty text"),
        ("o", _set("o", [4, 9], None), {}, "empty text"),
        ("g", _set("g", [4, 9], "2,5"), {}, "not a number"),
        ("g", _set("g", [4, 9], None), {}, "not a number"),
        ("g", _set("g", [4, 9], 7), {}, "outside the label scale"),
        ("s", _set("s", [4, 9], None), {"scenario_col": "s"}, "is empty"),
        ("s", _set("s", [4, 9], None), {"group_col": "s"}, "is empty"),
    ],
)
def test_text_cell_problems_name_column_and_rows(tmp_path, column, change, overrides, needle):
    path = _text_input(tmp_path, change)
    with pytest.raises(ContractError) as caught:
        build_text_dataset(_text_spec(path, **overrides), tmp_path / "out", show_progress=False)
    message = find_message(caught.value.messages, str(path), f"'{column}'", needle)
    assert rows_in(message) == [4, 9]
    _nothing_left(tmp_path, path)


# 2. --features naming another flag's column, or no column at all


@pytest.mark.parametrize(
    "column, needle", [("y", "--label-col"), ("fold", "--split-col"), ("ad_type", "--scenario-col")]
)
def test_feature_that_is_another_flags_column_exits_2(tmp_path, capsys, column, needle):
    path = _csv(tmp_path, _table())
    code, output = run(
        capsys, "import", "--input", path, *IMPORT_FLAGS, "--features", f"f1,{column}", "--out", tmp_path / "out"
    )
    assert code == 2 and f"'{column}'" in output and needle in output and "Traceback" not in output
    _nothing_left(tmp_path, path)


def test_unknown_feature_exits_2_naming_it(tmp_path, capsys):
    path = _csv(tmp_path, _table())
    code, output = run(
        capsys, "import", "--input", path, *IMPORT_FLAGS, "--features", "f1,nope", "--out", tmp_path / "out"
    )
    assert code == 2 and "'nope'" in output and str(path) in output


def test_duplicate_and_reserved_features_are_refused(tmp_path):
    path = _csv(tmp_path, _table().assign(row_id=np.arange(ROWS)))
    with pytest.raises(ContractError, match=r"more than once"):
        import_table(_spec(path, features=["f1", "f1"]), tmp_path / "out")
    with pytest.raises(ContractError, match=r"'row_id'.*reserves"):
        import_table(_spec(path, features=["f1", "row_id"]), tmp_path / "out")


# 3. undecodable, empty and header-only files


def test_latin1_csv_names_file_row_and_the_encoding_flag(tmp_path, capsys):
    table = _table()
    table.loc[10, "ad_type"] = "Hôtel"
    path = _csv(tmp_path, table, encoding="latin-1")
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "utf-8", "--encoding")
    assert rows_in(message) == [10] and "0xf4" in message
    code, output = run(capsys, "import", "--input", path, *IMPORT_FLAGS, "--out", tmp_path / "out")
    assert code == 2 and str(path) in output and "--encoding latin-1" in output
    # with the right encoding it imports; the accented scenario only lacks test rows (a contract error by name)
    with pytest.raises(ContractError, match="Hôtel"):
        import_table(_spec(path, encoding="latin-1"), tmp_path / "out")
    _nothing_left(tmp_path, path)


@pytest.mark.parametrize("content, needle", [(b"", r"empty \(0 bytes\)"), (b"ad_type,y,fold,f1\n", "no data rows")])
def test_empty_and_header_only_csv_name_the_file(tmp_path, content, needle):
    path = tmp_path / "pairs.csv"
    path.write_bytes(content)
    with pytest.raises(ContractError, match=needle) as caught:
        import_table(_spec(path), tmp_path / "out")
    assert str(path) in caught.value.messages[0]
    with pytest.raises(ContractError, match=needle):
        build_text_dataset(_text_spec(path), tmp_path / "out", show_progress=False)
    _nothing_left(tmp_path, path)


def test_unknown_encoding_is_a_flag_error(tmp_path):
    with pytest.raises(ContractError, match="--encoding 'bogus'"):
        import_table(_spec(_csv(tmp_path, _table()), encoding="bogus"), tmp_path / "out")


# 4. values that overflow float32


def test_float32_overflow_is_refused_at_import(tmp_path):
    table = _table()
    table["f2"] = table["f2"].astype(object)
    table.loc[[5, 50], "f2"] = "1e200"
    path = _csv(tmp_path, table)
    with pytest.raises(ContractError) as caught:
        import_table(_spec(path), tmp_path / "out")
    message = find_message(caught.value.messages, str(path), "'f2'", "float32")
    assert rows_in(message) == [5, 50]
    _nothing_left(tmp_path, path)


def test_float32_overflow_is_refused_by_validation(dataset):
    def change(frame):
        frame["f2"] = frame["f2"].astype(np.float64)
        frame.loc[[6, 60], "f2"] = 1e200

    part = _rewrite(dataset, change)
    message = find_message(validate_dataset(dataset).errors, str(part), "'f2'", "float32")
    assert rows_in(message) == [6, 60]


# 5. validation


def test_duplicate_row_ids_within_a_file(dataset):
    part = _rewrite(
        dataset, lambda frame: frame.__setitem__("row_id", frame["row_id"].where(~frame.index.isin([10, 20]), 5))
    )
    message = find_message(validate_dataset(dataset).errors, str(part), "'row_id'", "duplicate")
    assert rows_in(message) == [5, 10, 20]


def test_duplicate_row_ids_across_files(dataset):
    frame = pd.read_parquet(_part(dataset))
    first, second = frame.iloc[:200], frame.iloc[200:].copy()
    second.loc[second.index[[0, 3]], "row_id"] = [7, 9]
    first.to_parquet(_part(dataset), index=False)
    other = dataset / "data" / "part-00001.parquet"
    second.to_parquet(other, index=False)
    message = find_message(validate_dataset(dataset).errors, str(other), "'row_id'", str(_part(dataset)))
    assert rows_in(message) == [0, 3]


@pytest.mark.parametrize("dtype", ["float64", "str"])
def test_non_integer_row_id(dataset, dtype):
    part = _rewrite(dataset, lambda frame: frame.__setitem__("row_id", frame["row_id"].astype(dtype)))
    find_message(validate_dataset(dataset).errors, str(part), "'row_id'", "integer dtype")


def test_missing_valid_split(dataset, capsys):
    _rewrite(dataset, lambda frame: frame.__setitem__("split", frame["split"].replace("valid", "calib")))
    message = find_message(validate_dataset(dataset).errors, str(dataset), "'valid'", "early stopping")
    assert "no rows" in message
    code, output = run(capsys, "validate", dataset)
    assert code == 2 and "early stopping" in output


@pytest.mark.parametrize("label", [0, 1])
def test_valid_split_with_one_class(dataset, label):
    def change(frame):
        frame.loc[frame["split"] == "valid", "label"] = label

    _rewrite(dataset, change)
    message = find_message(validate_dataset(dataset).errors, str(dataset), "split 'valid'", "both classes")
    n = 48  # 400 rows, folds of 4 rows cycling through 8 entries: 12.5 folds hold valid, 48 rows
    positives = n if label else 0
    assert f"{n} labelled row(s) have {positives} positive(s) and {n - positives} negative(s)" in message


def test_zero_std_in_the_manifest_names_the_feature(dataset):
    path = dataset / "manifest.json"
    raw = json.loads(path.read_text())
    raw["std"][1] = 0.0
    path.write_text(json.dumps(raw))
    message = find_message(validate_dataset(dataset).errors, str(path), "'std'")
    assert "['f2']" in message


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_parquet_names_the_file(dataset, capsys, damage):
    part = _part(dataset)
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not parquet")
    find_message(validate_dataset(dataset).errors, str(part), "not a readable Parquet file")
    code, output = run(capsys, "validate", dataset)
    assert code == 2 and str(part) in output


# 6. flags of build_data.py


@pytest.mark.parametrize("rows", ["0", "-5"])
def test_simulate_with_too_few_rows_exits_2(tmp_path, capsys, rows):
    code, output = run(capsys, "simulate", "--rows", rows, "--out", tmp_path / "out")
    assert code == 2 and "rows must be at least" in output
    assert not (tmp_path / "out").exists()


def test_flags_that_end_in_exit_2(tmp_path, capsys):
    good = _csv(tmp_path, _table())
    afile = tmp_path / "afile"
    afile.write_text("x")
    text = _text_input(tmp_path)
    text_flags = ["text", "--input", text, "--query-col", "q", "--offer-col", "o", "--label-col", "g"]
    cases = [
        (["simulate", "--rows", "3000", "--seed", "-1", "--out", tmp_path / "o"], "--seed -1"),
        (["simulate", "--rows", "3000", "--out", afile], "existing file"),
        (["simulate", "--rows", "3000", "--out", afile / "sub"], "is a file"),
        (["import", "--input", tmp_path / "missing.csv", *IMPORT_FLAGS, "--out", tmp_path / "o"], "no such file"),
        (["import", "--input", good, *IMPORT_FLAGS, "--out", afile], "existing file"),
        (["import", "--input", good, *IMPORT_FLAGS, "--out", afile / "sub"], "is a file"),
        (["import", "--input", good, *IMPORT_FLAGS, "--encoding", "bogus", "--out", tmp_path / "o"], "bogus"),
        ([*text_flags, "--limit", "0", "--out", tmp_path / "o"], "--limit 0"),
        ([*text_flags, "--fractions", "train0.5", "--out", tmp_path / "o"], "SPLIT=SHARE"),
        ([*text_flags, "--fractions", "train=0.5,bogus=0.5", "--out", tmp_path / "o"], "unknown split"),
        ([*text_flags, "--label-scale", "1:3", "--threshold", "9", "--out", tmp_path / "o"], "--threshold 9"),
        ([*text_flags, "--cache-dir", afile, "--out", tmp_path / "o"], "--cache-dir"),
    ]
    for argv, needle in cases:
        code, output = run(capsys, *argv)
        assert code == 2 and needle in output and "Traceback" not in output, (argv, output)
    _nothing_left(tmp_path, good, afile, text)
