"""Framework-free steps: optimizer groups, train step/epoch, and predict's grouping, blocking and ordering."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from autotask.models import AutoTask, AutoTaskConfig, MultiTaskDNN, MultiTaskDNNConfig
from autotask.training.steps import (
    LossModule,
    compiled_step,
    group_chunks,
    lr_factor,
    make_optimizer,
    predict,
    set_lr_factor,
    shuffle_seed,
    train_epoch,
    train_step,
)

D, N_TASKS = 4, 3


class BlockSpy(nn.Module):
    """Scores each row with its own row number (feature 1) and records every block the model would form."""

    def __init__(self, block_size: int):
        super().__init__()
        self.config = SimpleNamespace(block_size=block_size)
        self.weight = nn.Parameter(torch.zeros(()))
        self.blocks: list[torch.Tensor] = []

    def score(self, features, task_ids, block_size=None):
        self.blocks += list(features[:, 0].split(block_size))
        return {"score": features[:, 1]}


def shuffled_rows(n: int, n_groups: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, size=n)
    features = np.column_stack([groups, np.arange(n), rng.normal(size=(n, D - 2))]).astype(np.float32)
    return features, np.minimum(groups, N_TASKS), groups  # groups 3 and 4 share task id 3


@pytest.mark.parametrize("block_size,batch_size", [(4, 8192), (4, 6), (3, 1), (1, 5)])
def test_predict_keeps_order_and_never_mixes_groups_in_a_block(block_size, batch_size):
    features, task_ids, groups = shuffled_rows(101, n_groups=5)
    spy = BlockSpy(block_size)
    scores = predict(spy, features, task_ids, groups=groups, batch_size=batch_size)["score"]
    assert np.array_equal(scores, np.arange(101))
    assert all(len(set(block.tolist())) == 1 for block in spy.blocks)
    assert sum(len(block) for block in spy.blocks) == 101
    assert max(len(block) for block in spy.blocks) == block_size


def test_group_chunks_cover_rows_once_in_order_within_groups():
    groups = np.array([2, 0, 2, 1, 0, 2, 2, 2])
    chunks = list(group_chunks(groups, chunk_rows=2))
    assert [c.tolist() for c in chunks] == [[1, 4], [3], [0, 2], [5, 6], [7]]


def test_predict_equals_scoring_each_group_in_blocks():
    torch.manual_seed(0)
    model = AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, e1=4, block_size=4)).eval()
    features, task_ids, groups = shuffled_rows(30, n_groups=4, seed=1)
    scores = predict(model, features, task_ids, groups=groups)["score"]
    with torch.no_grad():
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            expected = model.score(torch.from_numpy(features[rows]), torch.from_numpy(task_ids[rows]))
            assert np.allclose(scores[rows], expected["score"].numpy(), atol=1e-6)
    one_row = predict(model, features, task_ids, groups=groups, block_size=1)["score"]
    with torch.no_grad():
        rowwise = model(torch.from_numpy(features), torch.from_numpy(task_ids), block_size=1).sigmoid()
    assert np.allclose(one_row, rowwise.numpy(), atol=1e-6)


def test_predict_returns_every_dnn_score_and_restores_train_mode():
    model = MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS)).train()
    features, task_ids, _ = shuffled_rows(20, n_groups=3)
    scores = predict(model, features, task_ids)
    assert set(scores) == {"score", "score_task"} and scores["score"].shape == (20,)
    assert model.training


def test_make_optimizer_groups():
    model = AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, e1=4))
    adam = make_optimizer(model, {"facet1": 1e-3, "facet2": 2e-3, "head": 3e-3})
    assert isinstance(adam, torch.optim.Adam)
    assert [g["lr"] for g in adam.param_groups] == [1e-3, 1e-3, 2e-3, 2e-3, 3e-3, 3e-3]
    dnn = MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS))
    adamw = make_optimizer(dnn, 3e-3, weight_decay=0.01)
    assert isinstance(adamw, torch.optim.AdamW)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in adamw.param_groups] == [
        ("shared", 3e-3, 0.01), ("shared.no_decay", 3e-3, 0.0), ("branches", 3e-3, 0.01),
        ("branches.no_decay", 3e-3, 0.0)]
    set_lr_factor(adamw, 0.5)
    assert [g["lr"] for g in adamw.param_groups] == [1.5e-3] * 4


def test_learning_rates_by_group_name():
    """AutoTask's facets default to lr_facet1 / lr_facet2, every other group to lr_head; lr_groups overrides."""
    from autotask.config import TrainingConfig
    from autotask.models.registry import get_kind, learning_rates

    training = TrainingConfig(lr_facet1=1e-3, lr_facet2=2e-3, lr_head=3e-3, lr_groups={"branches": 5e-4})
    assert learning_rates(get_kind("autotask"), training) == {"facet1": 1e-3, "facet2": 2e-3, "head": 3e-3}
    assert learning_rates(get_kind("dnn"), training) == {"shared": 3e-3, "branches": 5e-4}


def test_lr_schedule_warms_up_then_decays_to_the_floor_in_each_stage():
    factors = [lr_factor(i, 10, 1, "cosine", 0.1) for i in range(10)]
    assert factors[0] == 0.5 and factors[1] == 1.0 and factors[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors[1:], factors[2:], strict=False))
    assert [lr_factor(i, 4, 0, "none", 0.1) for i in range(4)] == [1.0] * 4
    assert lr_factor(0, 1, 0, "cosine", 0.1) == 1.0  # a one-epoch stage trains at the base rate


def test_shuffle_seed_differs_per_epoch_and_repeats_per_seed():
    seeds = [shuffle_seed(3, epoch) for epoch in range(40)]
    assert len(set(seeds)) == 40 and seeds == [shuffle_seed(3, epoch) for epoch in range(40)]
    assert not set(seeds) & {shuffle_seed(4, epoch) for epoch in range(40)}


@pytest.mark.parametrize("kind", ["autotask", "dnn"])
def test_train_epoch_lowers_the_loss(kind):
    torch.manual_seed(0)
    if kind == "autotask":
        model = AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, e1=4, block_size=8))
    else:
        model = MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS))
    x = torch.randn(256, D)
    ids = torch.randint(1, N_TASKS + 1, (256,))
    y = (x[:, 0] > 0).float()
    optimizer = make_optimizer(model, 3e-3)
    batches = list(zip(x.split(32), ids.split(32), y.split(32), strict=True))
    first = train_epoch(model, optimizer, batches)
    for _ in range(4):
        last = train_epoch(model, optimizer, batches)
    assert last < first
    assert isinstance(train_step(LossModule(model).train(), optimizer, x[:32], ids[:32], y[:32]), float)


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.long)])
def test_compiled_step_follows_the_eager_step(backend):
    """torch.compile of the loss (the whole AutoTask training graph, gate included, captured without a graph break)
    takes the same steps as eager, through a shape change (a short last batch recompiles); bf16 autocast on CPU
    trains too. Inductor's code generation costs ~45 s on 2 cores, so the default suite traces with aot_eager."""
    torch.manual_seed(0)
    x, ids = torch.randn(96, D), torch.randint(1, N_TASKS + 1, (96,))
    y = (x[:, 0] > 0).float()
    losses = {}
    for name, compiled, autocast in (("eager", False, None), ("compiled", True, None), ("bf16", False, torch.bfloat16)):
        torch.manual_seed(1)
        model = AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, e1=4, block_size=8, unseen="gated"))
        optimizer = make_optimizer(model, 3e-3)
        step = compiled_step(LossModule(model, autocast).train(), compiled, backend)
        losses[name] = [train_step(step, optimizer, xb, ib, yb) for _ in range(3)
                        for xb, ib, yb in zip(x.split(40), ids.split(40), y.split(40), strict=True)]
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-4, atol=1e-5)
    assert torch._dynamo.utils.counters["graph_break"] == {}
    np.testing.assert_allclose(losses["bf16"], losses["eager"], atol=0.05)  # bf16: same path, 8-bit mantissa


def test_training_config_chooses_compile_and_precision_by_device():
    from autotask.config import TrainingConfig

    auto = TrainingConfig()
    assert (auto.compiles("cpu"), auto.compiles("cuda")) == (False, True)
    assert (auto.autocast_dtype("cpu"), auto.autocast_dtype("cuda")) == (None, torch.bfloat16)
    assert TrainingConfig(compile="on").compiles("cpu") and not TrainingConfig(compile="off").compiles("cuda")
    with pytest.raises(ValueError, match="compile must be one of"):
        TrainingConfig(compile="yes")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainingConfig(precision="fp16")
