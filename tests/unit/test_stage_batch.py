"""min_steps_per_epoch: small stages get smaller minibatches (50 steps by default; 0 turns it off)."""

from __future__ import annotations

import pytest

from autotask.config import MIN_AUTO_BATCH, RunConfig, TrainingConfig
from autotask.training.loop import stage_batch_sizes


@pytest.mark.parametrize(("rows", "workers", "expected"), [
    (100_000, 1, 256),  # 390 steps of 256: unchanged
    (12_000, 1, 128),  # 47 steps of 256 < 50: halved once (94 steps of 128)
    (4_800, 1, 64),
    (4_800, 2, 32),  # per worker: 2,400 rows
    (500, 1, MIN_AUTO_BATCH),  # never below the floor
])
def test_a_stage_batch_is_halved_until_each_worker_takes_the_minimum_steps(rows, workers, expected):
    assert TrainingConfig(min_steps_per_epoch=50, workers=workers).stage_batch_size(rows) == expected


def test_zero_turns_it_off_and_it_never_goes_below_the_models_block_size():
    assert TrainingConfig().stage_batch_size(500) == MIN_AUTO_BATCH  # the default: 50 steps
    assert TrainingConfig(min_steps_per_epoch=0).stage_batch_size(500) == 256
    assert TrainingConfig(min_steps_per_epoch=50).stage_batch_size(500, floor=64) == 64
    assert TrainingConfig(batch_size=16, min_steps_per_epoch=50).stage_batch_size(500) == 16  # never above batch_size
    with pytest.raises(ValueError, match="min_steps_per_epoch must be >= 0"):
        TrainingConfig(min_steps_per_epoch=-1)


def test_each_stage_gets_its_own_batch_from_its_rows():
    run = RunConfig(data="unused", training=TrainingConfig(min_steps_per_epoch=50))
    assert stage_batch_sizes(run, {"pretrain": 33_000, "train": 4_800}, 16) == {"pretrain": 256, "train": 64}
    assert stage_batch_sizes(run, {}, 16) == {"pretrain": 256, "train": 256}  # rows unknown: batch_size


def test_a_stored_config_that_predates_the_new_fields_reads_as_trained(tmp_path):
    """A run written before pool_in_finetune and min_steps_per_epoch existed trained without them: reading its
    config.json must not make it look like a run with today's defaults (it would be reused as finished)."""
    old = RunConfig(data="d").to_dict()
    for key in ("pool_in_finetune", "min_steps_per_epoch"):
        del old["training"][key]
    path = tmp_path / "config.json"
    path.write_text(__import__("json").dumps(old))
    stored = RunConfig.read(path)
    assert not stored.training.pool_in_finetune and stored.training.min_steps_per_epoch == 0
    assert stored != RunConfig(data="d")
    (tmp_path / "new.json").write_text(RunConfig(data="d").to_json())
    assert RunConfig.read(tmp_path / "new.json") == RunConfig(data="d")
