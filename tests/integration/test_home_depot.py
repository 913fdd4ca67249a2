"""The Home Depot builder on the first rows of the real file, read from ../shared at run time (never copied)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from autotask.data.contract import LABEL, QUERY_ID, SCENARIO, SOFT_LABEL, SPLIT, TRAINING_SPLITS, ContractError
from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.data.text import FEATURES, build_text_dataset, home_depot_spec
from autotask.data.text.embeddings import EmbeddingCache
from autotask.data.text.home_depot import DEFAULT_INPUT, UNSEEN
from autotask.data.text.reading import clean_text

ROWS = 1500

pytestmark = pytest.mark.skipif(
    not DEFAULT_INPUT.exists(),
    reason=f"Home Depot data not found at {DEFAULT_INPUT.resolve()} (see docs/real-data.md for where to get it)",
)


@pytest.fixture(scope="session")
def embedding_dir(tmp_path_factory):
    """One embedding cache for the whole session: the slice is embedded once."""
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="session")
def home_depot(tmp_path_factory, embedding_dir):
    out = tmp_path_factory.mktemp("home-depot") / "hd"
    spec = home_depot_spec(limit=ROWS, cache_dir=embedding_dir)
    report = build_text_dataset(spec, out, show_progress=False)
    assert report.ok, report.errors
    return out, read_frame(out)


@pytest.fixture(scope="session")
def raw_slice() -> pd.DataFrame:
    return pd.read_csv(DEFAULT_INPUT, encoding="latin-1", nrows=60)


def test_features_are_finite_and_informative(home_depot):
    _, frame = home_depot
    assert len(frame) == ROWS and len(FEATURES) >= 16
    values = frame[FEATURES].to_numpy()
    assert np.isfinite(values).all() and values.dtype == np.float32
    assert (values.std(axis=0) > 0).all(), "every feature varies on real data"
    graded = frame[frame[LABEL].notna()]
    for name in ("embedding_cosine", "tfidf_char_cosine", "bm25", "query_coverage"):
        assert roc_auc_score(graded[LABEL].astype(int), graded[name]) > 0.6, name


def test_contract_splits_and_unseen_departments(home_depot):
    out, frame = home_depot
    manifest = load_manifest(out)
    assert manifest.features == FEATURES and manifest.unseen[: len(UNSEEN)] == list(UNSEEN)
    assert frame.groupby(QUERY_ID)[SPLIT].nunique().max() == 1, "a query crosses splits"
    training = frame[frame[SPLIT].isin(TRAINING_SPLITS)]
    assert not training[SCENARIO].isin(UNSEEN).any()
    assert set(UNSEEN) <= set(frame.loc[frame[SPLIT] == "test", SCENARIO])
    pretrain = frame[SPLIT] == "pretrain"
    assert frame.loc[pretrain, LABEL].isna().all() and frame.loc[~pretrain, LABEL].notna().all()
    assert frame[SOFT_LABEL].between(0, 1).all()


def test_labels_follow_the_grades(home_depot, raw_slice):
    _, frame = home_depot
    grades = raw_slice["relevance"].to_numpy()
    head = frame.iloc[: len(raw_slice)]
    assert head[SOFT_LABEL].to_numpy() == pytest.approx((grades - 1) / 2, abs=1e-6)
    labelled = head[LABEL].notna().to_numpy()
    assert (head.loc[labelled, LABEL].to_numpy() == (grades[labelled] >= 2.5)).all()


def test_rebuild_is_served_from_the_embedding_cache(home_depot, embedding_dir, tmp_path):
    _, frame = home_depot
    raw = pd.read_csv(DEFAULT_INPUT, encoding="latin-1", nrows=ROWS)
    texts = pd.concat([clean_text(raw["search_term"]), clean_text(raw["product_title"])])
    assert EmbeddingCache(embedding_dir).missing(texts) == []
    started = time.perf_counter()
    build_text_dataset(home_depot_spec(limit=ROWS, cache_dir=embedding_dir), tmp_path / "again", show_progress=False)
    assert time.perf_counter() - started < 30
    again = read_frame(tmp_path / "again")
    pd.testing.assert_frame_equal(again, frame)


def test_cli_preset(embedding_dir, tmp_path, capsys):
    runner = Path(__file__).resolve().parents[2] / "runners" / "build_data.py"
    spec = importlib.util.spec_from_file_location("build_data_runner", runner)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["home-depot", "--limit", str(ROWS), "--cache-dir", str(embedding_dir), "--out", str(tmp_path / "cli")]
    assert module.main(argv) == 0
    assert "valid" in capsys.readouterr().out


def _corrupt(raw: pd.DataFrame, tmp_path, change) -> ContractError:
    bad = raw.copy()
    change(bad)
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False, encoding="latin-1")
    with pytest.raises(ContractError) as info:
        build_text_dataset(home_depot_spec(path), tmp_path / "out", show_progress=False)
    assert not (tmp_path / "out").exists()
    return info.value


def test_missing_column_is_named(raw_slice, tmp_path):
    def drop(frame):
        del frame["search_term"]

    error = _corrupt(raw_slice, tmp_path, drop)
    assert "missing column(s) ['search_term']" in str(error)


def test_empty_text_names_rows(raw_slice, tmp_path):
    def blank(frame):
        frame.loc[[3, 17], "product_title"] = ["", " "]

    error = _corrupt(raw_slice, tmp_path, blank)
    assert "column 'product_title' has empty text at rows 3, 17" in str(error)


def test_label_outside_scale_names_rows(raw_slice, tmp_path):
    def too_high(frame):
        frame.loc[5, "relevance"] = 4.0

    error = _corrupt(raw_slice, tmp_path, too_high)
    assert "column 'relevance' has values outside the label scale [1, 3]" in str(error) and "row 5" in str(error)
