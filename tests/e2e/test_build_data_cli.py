"""`python runners/build_data.py ...` from the repository root: exit codes, messages, outputs."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import rows_in

from autotask.data import load_manifest, validate_dataset
from autotask.data.io import read_frame
from autotask.data.simulator import DEFAULT_ROWS, FEATURES, SEEN, UNSEEN


def _output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_stdlib_platform_is_not_shadowed_from_the_repo_root(repo_root):
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system(), platform.__file__)"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] in {"Linux", "Darwin", "Windows"}
    assert str(repo_root / "platform") not in result.stdout


def test_validate_a_valid_dataset_exits_0_with_a_summary(run_build_data, sim_dataset):
    result = run_build_data("validate", sim_dataset)
    assert result.returncode == 0, _output(result)
    out = result.stdout
    assert "20,000 rows" in out and "d = 12" in out and "N = 9" in out
    for name in (*SEEN, "Clinic (unseen)", "Home (unseen)", "pretrain", "test", "rows / pos%"):
        assert name in out, name
    assert "valid" in out and ", ".join(FEATURES) in out.replace("\n", "")


def test_validate_a_broken_dataset_exits_non_zero_naming_file_column_rows(run_build_data, dataset_copy):
    frame = dataset_copy.frame()
    frame.loc[[12, 34], "bm25"] = np.nan
    train = np.flatnonzero((frame["split"] == "train").to_numpy())[:2]
    frame.loc[train, "scenario"] = "Home"
    dataset_copy.write(frame)
    result = run_build_data("validate", dataset_copy.path)
    assert result.returncode != 0
    lines = [line for line in _output(result).splitlines() if str(dataset_copy.part) in line]
    bm25 = [line for line in lines if "'bm25'" in line]
    leaked = [line for line in lines if "'scenario'" in line and "Home" in line]
    assert bm25 and rows_in(bm25[0]) == [12, 34], _output(result)
    assert leaked and rows_in(leaked[0]) == train.tolist(), _output(result)
    assert "2 contract error(s)" in result.stdout


def test_validate_a_missing_path_exits_non_zero(run_build_data, tmp_path):
    result = run_build_data("validate", tmp_path / "nothing")
    assert result.returncode != 0
    assert str(tmp_path / "nothing") in _output(result)


def test_simulate_default_builds_in_seconds_and_is_deterministic(run_build_data, tmp_path):
    start = time.perf_counter()
    result = run_build_data("simulate", "--out", tmp_path / "a")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, _output(result)
    assert elapsed < 30, f"default simulate took {elapsed:.1f} s"
    assert f"{DEFAULT_ROWS:,} rows" in result.stdout
    manifest = load_manifest(tmp_path / "a")
    assert manifest.source == {"kind": "simulator", "rows": DEFAULT_ROWS, "seed": 0, "chunk_rows": 500_000}

    assert run_build_data("simulate", "--out", tmp_path / "b", "--rows", 4000, "--seed", 7).returncode == 0
    assert run_build_data("simulate", "--out", tmp_path / "c", "--rows", 4000, "--seed", 7).returncode == 0
    b, c = (read_frame(tmp_path / name) for name in "bc")
    pd.testing.assert_frame_equal(b, c)  # different seeds differ: tests/unit/test_simulator.py
    assert (tmp_path / "b" / "manifest.json").read_text() == (tmp_path / "c" / "manifest.json").read_text()
    for frame in (read_frame(tmp_path / "a"), b):
        assert not frame.loc[frame["split"].isin(["pretrain", "train"]), "scenario"].isin(UNSEEN).any()
        test = frame[frame["split"] == "test"]
        assert set(test["scenario"]) == {*SEEN, *UNSEEN} and test["oracle_p"].notna().all()

    refused = run_build_data("simulate", "--out", tmp_path / "b", "--rows", 4000, "--seed", 8)
    assert refused.returncode != 0 and "--overwrite" in _output(refused)
    assert load_manifest(tmp_path / "b").source["seed"] == 7


def test_import_round_trip_via_the_cli(run_build_data, sim_dataset, sim_frame, tmp_path):
    csv = tmp_path / "pairs.csv"
    sim_frame.rename(columns={"scenario": "ad_type", "label": "y", "split": "fold"}).to_csv(csv, index=False)
    out = tmp_path / "imported"
    result = run_build_data(
        "import",
        "--input", csv,
        "--scenario-col", "ad_type",
        "--label-col", "y",
        "--soft-label-col", "soft_label",
        "--split-col", "fold",
        "--unseen", "Clinic,Home",
        "--scenario-order", ",".join(SEEN),
        "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, _output(result)
    assert "20,000 rows" in result.stdout
    manifest, original = load_manifest(out), load_manifest(sim_dataset)
    assert manifest.features == original.features
    assert manifest.scenarios == original.scenarios and manifest.unseen == original.unseen
    np.testing.assert_allclose(manifest.mean, original.mean, rtol=1e-4)
    np.testing.assert_allclose(manifest.std, original.std, rtol=1e-4)
    imported = read_frame(out)
    assert imported["split"].tolist() == sim_frame["split"].tolist()
    assert imported["label"].astype("Float64").equals(sim_frame["label"].astype("Float64"))


def test_import_with_group_splits_via_the_cli(run_build_data, sim_frame, tmp_path):
    table = sim_frame[sim_frame["label"].notna()].drop(columns=["split", "soft_label", "oracle_p", "row_id"])
    path = tmp_path / "pairs.parquet"
    table.rename(columns={"query_id": "qid"}).to_parquet(path, index=False)
    out = tmp_path / "imported"
    result = run_build_data(
        "import", "--input", path, "--scenario-col", "scenario", "--label-col", "label",
        "--group-col", "qid", "--unseen", "Clinic,Home", "--features", ",".join(FEATURES), "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, _output(result)
    frame = read_frame(out)
    assert frame.groupby("query_id")["split"].nunique().max() == 1
    assert validate_dataset(out).ok


@pytest.mark.parametrize(
    ("change", "flags", "needles"),
    [
        ("none", ["--scenario-col", "ad_typo"], ["'ad_typo'", "missing"]),
        ("text_feature", ["--features", ",".join(FEATURES)], ["'offer_quality'", "not numeric", "rows 1, 2"]),
        ("label_2", [], ["'label' (input column 'y')", "outside {0, 1}"]),
    ],
)
def test_import_bad_input_exits_non_zero_and_publishes_nothing(
    run_build_data, sim_frame, tmp_path, change, flags, needles
):
    table = sim_frame.rename(columns={"scenario": "ad_type", "label": "y", "split": "fold"})
    if change == "text_feature":
        values = table["offer_quality"].astype(object)
        values.iloc[[1, 2]] = "good"
        table["offer_quality"] = values
    if change == "label_2":
        label = table["y"].astype("Float64")
        label.iloc[np.flatnonzero((table["fold"] == "test").to_numpy())[:2]] = 2.0
        table["y"] = label
    csv = tmp_path / "pairs.csv"
    table.to_csv(csv, index=False)
    args = {"--scenario-col": "ad_type", "--label-col": "y", "--split-col": "fold", "--unseen": "Clinic,Home"}
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        args[flag] = value
    pairs = [x for kv in args.items() for x in kv]
    result = run_build_data("import", "--input", csv, *pairs, "--out", tmp_path / "out")
    assert result.returncode != 0
    message = [line for line in _output(result).splitlines() if all(n in line for n in needles)]
    assert message, _output(result)
    assert str(csv) in message[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.csv"]  # nothing under the final name, no staging


def test_help_lists_the_three_commands(run_build_data):
    result = run_build_data("--help")
    assert result.returncode == 0
    for command in ("simulate", "validate", "import"):
        assert command in result.stdout


def test_worlds_builds_reuses_and_refuses_bad_requests_with_exit_2(run_build_data, tmp_path):
    out = tmp_path / "worlds"
    built = run_build_data("worlds", "--out", out, "--count", "1", "--rows", "12500")
    assert built.returncode == 0, _output(built)
    assert "1 worlds" in built.stdout and (out / "world-00" / "manifest.json").exists()
    assert run_build_data("worlds", "--out", out, "--count", "1", "--rows", "12500").returncode == 0  # reused
    for flags, message in ((["--count", "0"], "--count 0: at least 1 world"),
                           (["--rows", "900"], "--rows 900: too few"),
                           (["--count", "2", "--rows", "12500"], "already exists")):
        target = out if message == "already exists" else tmp_path / "refused"
        refused = run_build_data("worlds", "--out", target, *flags)
        assert refused.returncode == 2 and message in _output(refused), _output(refused)
        assert "Traceback" not in _output(refused)
    assert not (tmp_path / "refused").exists()
    assert sorted(p.name for p in out.iterdir()) == ["world-00", "worlds.json"]
