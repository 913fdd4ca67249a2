"""In-memory splits (training/feeds.py): what a 1-worker run on small data trains on, without Ray."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch

from autotask.config import PRESETS, RunConfig, TrainingConfig
from autotask.data.contract import ROW_ID, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.preflight import cgroup_cpu_limit
from autotask.runtime.local import feed
from autotask.training.batches import FEATURES, TARGET, TASK_ID, to_model_inputs
from autotask.training.feeds import MemorySplit, read_memory_splits
from autotask.training.loop import _collect, minibatches


def _split(n: int) -> MemorySplit:
    return MemorySplit({FEATURES: np.arange(2 * n, dtype=np.float32).reshape(n, 2), TASK_ID: np.ones(n, np.int64),
                        TARGET: np.zeros(n, np.float32), ROW_ID: np.arange(n, dtype=np.int64)})


def test_every_epoch_draws_a_new_order_of_every_row_once():
    """The loop's minibatches from memory: batch_size rows (the last one short), each row once per epoch, a new order
    each epoch, the same order for the same (seed, epoch); the tensors stay aligned row by row."""
    run = RunConfig(data="unused", training=TrainingConfig(batch_size=64))
    split = _split(1_000)
    epochs = [list(minibatches(split, run, "cpu", epoch)) for epoch in (0, 1, 0)]
    assert [len(batch[3]) for batch in epochs[0]] == [64] * 15 + [40]
    orders = [torch.cat([batch[3] for batch in epoch]) for epoch in epochs]
    assert sorted(orders[0].tolist()) == list(range(1_000))
    assert not torch.equal(orders[0], orders[1]) and torch.equal(orders[0], orders[2])
    features, _, _, row_ids = epochs[1][3]
    assert torch.equal(features[:, 0], 2 * row_ids.float())
    assert list(minibatches(_split(0), run, "cpu", 0)) == []  # no pool: an empty pre-training split, no step


def test_splits_hold_what_the_preprocessing_makes_of_each_split(tiny_dataset):
    """The same `to_model_inputs` as Ray Data's preprocessing, per split in file order; with the pool in fine-tuning,
    "train" is the train rows and then the pool's (soft targets)."""
    manifest = load_manifest(tiny_dataset)
    splits = read_memory_splits(tiny_dataset, manifest, pool_in_finetune=True)
    frame = read_frame(tiny_dataset)
    for name, split, soft in (("pretrain", "pretrain", True), ("valid", "valid", False)):
        expected = to_model_inputs(frame[frame[SPLIT] == split], manifest, soft=soft)
        assert set(splits[name].arrays) == set(expected)
        for key, values in expected.items():
            np.testing.assert_array_equal(splits[name].arrays[key], values)
    train = to_model_inputs(frame[frame[SPLIT] == "train"], manifest)
    assert len(splits["train"]) == len(train[TARGET]) + len(splits["pretrain"]) > len(train[TARGET])
    pool_rows = splits["train"].arrays[ROW_ID][len(train[TARGET]):]
    np.testing.assert_array_equal(pool_rows, splits["pretrain"].arrays[ROW_ID])
    assert _collect(splits["valid"]) is splits["valid"].arrays
    assert len(read_memory_splits(tiny_dataset, manifest)["train"]) == len(train[TARGET])


def test_a_small_one_worker_run_starts_no_ray(tiny_dataset, tmp_path):
    """A 1-worker CPU torch run on small data trains, scores and writes its outputs without starting Ray (recorded
    as feed "memory"); a fresh process, so no test's Ray session is around."""
    script = textwrap.dedent(f"""
        import ray
        from autotask.config import RunConfig, TrainingConfig
        from autotask.runtime.run import train_run
        training = TrainingConfig(workers=1, epochs_pretrain=1, epochs_finetune=1, batch_size=256)
        train_run(RunConfig(data={str(tiny_dataset)!r}, model="dnn", seed=1, training=training), {str(tmp_path)!r})
        assert not ray.is_initialized(), "Ray was started"
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    provenance = json.loads((tmp_path / "config.json").read_text())["provenance"]
    assert (provenance["execution"], provenance["feed"]) == ("in-process", "memory")
    assert (tmp_path / "metrics.parquet").exists()


def test_data_without_row_ids_is_refused_before_training(dataset_copy):
    """Scoring and each epoch's lineage key on `row_id`: a dataset without it is refused, as Ray Data's path does."""
    dataset_copy.write(dataset_copy.frame().drop(columns=[ROW_ID]))
    with pytest.raises(ValueError, match="needs a 'row_id' column"):
        read_memory_splits(dataset_copy.path, load_manifest(dataset_copy.path))


def test_the_feed_is_memory_only_for_small_in_process_runs(tiny_dataset):
    """In memory: a 1-worker CPU run under 2M rows and 1 GiB of float32 inputs, unless it asks for Ray Data; a
    2-worker run, a big dataset or a wide one goes through Ray Data."""
    manifest = load_manifest(tiny_dataset)
    run = RunConfig(data=str(tiny_dataset), training=TrainingConfig(workers=1))
    assert feed(run, manifest, {"train": 6_000}) == "memory"
    assert feed(replace(run, training=TrainingConfig(workers=1, feed="ray-data")), manifest, {"train": 6_000}) == \
        "ray-data"
    assert feed(replace(run, training=TrainingConfig(workers=2)), manifest, {"train": 6_000}) == "ray-data"
    assert feed(run, manifest, {"train": 2_500_000}) == "ray-data"
    wide = replace(manifest, features=[f"f{i}" for i in range(200)])  # 1.5M rows x 200 floats = 1.2 GB
    assert feed(run, wide, {"train": 1_500_000}) == "ray-data" and feed(run, wide, {"train": 100_000}) == "memory"


def test_a_stored_torch_run_without_a_feed_was_fed_by_ray_data(tmp_path):
    """config.json files written before the in-memory feed read back as Ray Data's feed (never mistaken for today's
    runs); LightGBM, which has no feed, keeps the default; the paper preset is not touched."""
    for model, expected in (("autotask", "ray-data"), ("lightgbm", "auto")):
        raw = RunConfig(data="d", model=model).to_dict()
        del raw["training"]["feed"]
        (tmp_path / f"{model}.json").write_text(json.dumps(raw))
        assert RunConfig.read(tmp_path / f"{model}.json").training.feed == expected
    assert "feed" not in PRESETS["paper"]


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "200000 100000\n"}, 2.0), ({"cpu.max": "max 100000\n"}, None), ({"cpu.max": "150000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None), ({}, None),
])
def test_a_containers_cpu_quota_caps_the_local_cpus(tmp_path, files, expected):
    """Without Ray, a run's threads come from the local CPUs, counted as Ray counts them: a cgroup quota caps them."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == expected
