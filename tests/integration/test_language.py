"""Language inputs end to end on a small generated text set: build with the packaged MiniLM (real model, offline),
validate, train AutoTask and LightGBM reading the embeddings on real Ray, serve, report."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from autotask.commands.report import main as report_main
from autotask.config import RunConfig
from autotask.data.contract import OFFER_EMBEDDING, QUERY_EMBEDDING, QUERY_TEXT, ROW_ID
from autotask.data.io import read_frame, vector_matrix
from autotask.data.manifest import load_manifest
from autotask.data.text import LabelScale, TextSpec, build_text_dataset
from autotask.data.text.embeddings import EmbeddingCache
from autotask.data.validate import validate_dataset
from autotask.experiments.study import load_study, run_study, study_configs
from autotask.runtime.ray_data import training_datasets
from autotask.runtime.run import check_run_config
from autotask.serving.model import ServingModel, load_run_model
from autotask.training.batches import FEATURES, TASK_ID
from autotask.training.feeds import read_memory_splits
from autotask.training.loop import _collect
from autotask.training.outputs import read_eval_frame

PRODUCTS = {
    "Tools": ["cordless drill", "hammer", "socket wrench set", "circular saw", "tape measure", "utility knife"],
    "Paint": ["interior latex paint", "paint roller", "primer", "spray paint", "painters tape", "wood stain"],
    "Garden": ["garden hose", "lawn mower", "pruning shears", "potting soil", "leaf rake", "sprinkler"],
    "Lighting": ["ceiling fan", "led bulb", "desk lamp", "pendant light", "flood light", "wall sconce"],
}
BRANDS = ["Acme", "Apex", "Stellar", "Northwind", "Summit"]
SEEN = ("Tools", "Paint", "Garden")


def text_pairs(rows: int = 900, seed: int = 0) -> pd.DataFrame:
    """(query, title, grade 1..3, department): a query names its product (high grade) or another one (low)."""
    rng = random.Random(seed)
    everything = [(dept, item) for dept, items in PRODUCTS.items() for item in items]
    records = []
    for _ in range(rows):
        dept, item = rng.choice(everything)
        title = f"{rng.choice(BRANDS)} {item} {rng.choice(['pro', 'classic', 'compact', ''])}".strip()
        relevant = rng.random() < 0.5
        asked = item if relevant else rng.choice([i for _, i in everything if i != item])
        query = asked if rng.random() < 0.6 else f"{asked} {rng.choice(['cheap', 'best', 'for home', 'outdoor'])}"
        grade = float(np.clip((3.0 if relevant else 1.0) + rng.gauss(0, 0.4), 1, 3))
        records.append({"q": query, "o": title, "g": grade, "dept": dept})
    return pd.DataFrame(records)


@pytest.fixture(scope="module")
def language_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("language")
    source = folder / "pairs.csv"
    text_pairs().to_csv(source, index=False)
    spec = TextSpec(input=source, query_col="q", offer_col="o", label_col="g", label_scale=LabelScale(1, 3),
                    scenario_col="dept", unseen=("Lighting",), cache_dir=folder / "cache", keep_text=True,
                    text_embeddings="minilm")
    report = build_text_dataset(spec, folder / "data", show_progress=False)
    assert report.ok, report.errors
    return folder / "data", folder / "cache"


def test_build_stores_texts_and_the_cached_embeddings(language_dataset):
    data, cache = language_dataset
    manifest = load_manifest(data)
    assert manifest.texts == ["query_text", "offer_text"]
    assert manifest.embeddings["width"] == 384 and manifest.embeddings["dtype"] == "float16"
    assert manifest.language_width == 768
    frame = read_frame(data)
    queries = vector_matrix(frame[QUERY_EMBEDDING], 384)
    expected = EmbeddingCache(cache).vectors(frame[QUERY_TEXT].tolist())
    np.testing.assert_allclose(queries, expected, atol=2e-3)  # float16 storage
    np.testing.assert_allclose(np.linalg.norm(vector_matrix(frame[OFFER_EMBEDDING], 384), axis=1), 1.0, atol=5e-3)


def _rewrite(data, target, column: str, rows: dict[int, list[float]]):
    """A copy of the dataset whose embedding `column` has the given rows replaced."""
    shutil.copytree(data, target)
    part = next((target / "data").glob("*.parquet"))
    table = pq.read_table(part)
    values = table.column(column).to_pylist()
    for row, vector in rows.items():
        values[row] = vector
    index = table.schema.get_field_index(column)
    pq.write_table(table.set_column(index, column, pa.array(values, pa.list_(pa.float32()))), part)
    return target


def test_validation_names_rows_with_a_wrong_width_or_nan(language_dataset, tmp_path):
    data, _ = language_dataset
    broken = _rewrite(data, tmp_path / "broken", OFFER_EMBEDDING, {3: [0.1] * 383, 7: [float("nan")] * 384})
    errors = validate_dataset(broken).errors
    assert any("'offer_embedding' must hold 384 floats" in e and "row 3" in e for e in errors), errors
    nan_data = _rewrite(data, tmp_path / "nan", QUERY_EMBEDDING, {5: [float("nan")] * 384})
    errors = validate_dataset(nan_data).errors
    assert any("'query_embedding' has NaN/inf at row 5" in e for e in errors), errors


def test_language_on_data_without_embeddings_is_refused_before_ray(tiny_dataset):
    manifest = load_manifest(tiny_dataset)
    for model in ("autotask", "dnn", "lightgbm"):
        run = RunConfig(data=str(tiny_dataset), model=model, model_config={"language": "embeddings"})
        with pytest.raises(ValueError, match="--text-embeddings minilm"):
            check_run_config(run, manifest)


@pytest.fixture(scope="module")
def language_runs(ray_session, language_dataset, tmp_path_factory):
    """The language study's AutoTask and LightGBM entries, trained as a study of two concurrent Ray tasks."""
    data, _ = language_dataset
    out = tmp_path_factory.mktemp("runs")
    entries = [entry for entry in load_study("language") if entry.name in ("autotask-language", "lightgbm-language")]
    configs = study_configs(entries, str(data), seeds=1, training={"epochs_pretrain": 0, "epochs_finetune": 2,
                                                                   "batch_size": 128})
    run_study(configs, out, concurrent=2)
    return data, out, {"autotask": out / "autotask-language-seed0", "lightgbm": out / "lightgbm-language-seed0"}


@pytest.mark.ray
def test_autotask_reads_language_and_serves_what_it_scored(language_runs):
    data, _, runs = language_runs
    model = load_run_model(runs["autotask"])
    assert model.config.language_width == 768 and model.facet1.language is not None
    manifest = load_manifest(data)
    frame, inputs = read_eval_frame(str(data), manifest, language=True)
    assert inputs[FEATURES].shape[1] == manifest.d + 768
    predictions = pd.read_parquet(runs["autotask"] / "predictions.parquet").set_index("row_id")
    with torch.no_grad():
        served = ServingModel(model)(torch.as_tensor(inputs[FEATURES]), torch.as_tensor(inputs[TASK_ID])).numpy()
        shuffled = inputs[FEATURES].copy()
        shuffled[:, manifest.d:] = shuffled[np.random.default_rng(0).permutation(len(shuffled)), manifest.d:]
        moved = ServingModel(model)(torch.as_tensor(shuffled), torch.as_tensor(inputs[TASK_ID])).numpy()
    np.testing.assert_allclose(served, predictions.loc[frame["row_id"], "score"].to_numpy(), atol=1e-5)
    assert np.abs(moved - served).mean() > 1e-3  # the scores depend on the texts' embeddings
    assert (runs["lightgbm"] / "model" / "text_pca.npz").exists()


@pytest.mark.ray
def test_language_runs_report_per_department_with_the_unseen_one(language_runs, tmp_path, capsys):
    _, out, runs = language_runs
    code = report_main([str(runs["autotask"]), "--baseline", str(runs["lightgbm"]), "--out", str(tmp_path / "r"),
                        "--bootstrap", "50"])
    assert code == 0
    text = (tmp_path / "r" / "report.md").read_text()
    assert "Lighting" in text and "AutoTask + language" in text


@pytest.mark.ray
def test_memory_splits_hold_ray_datas_inputs_with_the_embeddings(ray_session, language_dataset):
    """An in-process run's splits read into memory (training/feeds.py) are, row for row, what Ray Data's pipeline
    hands a Train worker, the text embeddings included."""
    data, _ = language_dataset
    manifest = load_manifest(data)
    memory = read_memory_splits(data, manifest, language=True, pool_in_finetune=True)
    counts = {"pretrain": len(memory["pretrain"]), "train": len(memory["train"])}
    streamed = training_datasets(str(data), manifest, counts, language=True, pool_in_finetune=True)
    for name, split in memory.items():
        ours, theirs = split.arrays, _collect(streamed[name])
        assert set(ours) == set(theirs) and ours[FEATURES].shape[1] == manifest.d + 768
        mine, ray_order = np.argsort(ours[ROW_ID], kind="stable"), np.argsort(theirs[ROW_ID], kind="stable")
        for key, values in ours.items():
            assert values.dtype == theirs[key].dtype
            np.testing.assert_array_equal(values[mine], theirs[key][ray_order])
