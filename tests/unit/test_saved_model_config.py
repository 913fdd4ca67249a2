"""A run saved before a model field existed keeps the behaviour it was trained with, and counts as stale."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from autotask.config import RunConfig
from autotask.models import AutoTask, AutoTaskConfig
from autotask.runtime.run import check_compatible, is_finished, model_config_changes
from autotask.serving.model import load_run_model


def saved_run(tmp_path, **model_overrides):
    """A run directory as an older version wrote it: the paper head, its config saved without the newer fields."""
    torch.manual_seed(0)
    model = AutoTask(AutoTaskConfig(d=4, n_tasks=3, task_tower=0, **model_overrides))
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    saved = {k: v for k, v in asdict(model.config).items() if k not in ("task_tower", "language_dropout")}
    (run_dir / "model" / "model_config.json").write_text(json.dumps({"kind": "autotask", **saved}))
    torch.save(model.state_dict(), run_dir / "model" / "weights.pt")
    run = RunConfig(data=str(tmp_path / "data"), model="autotask")
    (run_dir / "config.json").write_text(run.to_json())
    (run_dir / "metrics.parquet").write_bytes(b"")
    return run_dir, run, model


def test_an_older_run_loads_with_the_head_it_was_trained_with_and_is_not_reused(tmp_path):
    run_dir, run, model = saved_run(tmp_path)
    loaded = load_run_model(run_dir)
    assert loaded.fusion.towers is None and loaded.config.task_tower == 0
    x, ids = torch.randn(5, 4), torch.tensor([1, 2, 3, 0, 1])
    assert torch.equal(loaded(x, ids), model.eval()(x, ids))
    assert model_config_changes(run_dir, run) == "model.task_tower 0 -> 8"
    assert not is_finished(run_dir, run)  # today's defaults differ: never reused as if current
    with pytest.raises(ValueError, match=r"other model defaults \(model.task_tower 0 -> 8\)"):
        check_compatible(run_dir, run, manifest=None)  # the run saved no manifest, so none is compared
    same = RunConfig(data=run.data, model="autotask", model_config={"task_tower": 0})
    assert model_config_changes(run_dir, same) == ""

