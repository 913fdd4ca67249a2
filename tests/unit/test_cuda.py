"""The CUDA path of the model, training step, scoring and serving (skipped where torch sees no GPU, as in CI; run on a
GPU machine with `python -m pytest tests/unit/test_cuda.py`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autotask.models import AutoTask, AutoTaskConfig
from autotask.serving.runtime import eager_predictor
from autotask.training.steps import LossModule, make_optimizer, predict, train_step

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

D, N_TASKS, ROWS = 12, 7, 2048


def rows(seed: int = 0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(ROWS, D)).astype(np.float32)
    task_ids = rng.integers(0, N_TASKS + 1, size=ROWS)
    targets = (rng.random(ROWS) < 1 / (1 + np.exp(-features[:, 0]))).astype(np.float32)
    return features, task_ids, targets


def model() -> AutoTask:
    torch.manual_seed(0)
    return AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS))


def test_training_on_cuda_follows_the_cpu_trajectory():
    features, task_ids, targets = rows()
    losses = {}
    for device in ("cpu", "cuda"):
        net = model().to(device)
        optimizer = make_optimizer(net, 1e-3)
        batch = [torch.from_numpy(a).to(device) for a in (features, task_ids, targets)]
        losses[device] = [train_step(LossModule(net).train(), optimizer, *batch) for _ in range(20)]
    assert losses["cuda"][-1] < losses["cuda"][0], "the loss must fall on CUDA too"
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=2e-3, atol=2e-4)


def test_scores_agree_between_cuda_and_cpu():
    features, task_ids, _ = rows(1)
    net = model().to("cuda")
    on_gpu = predict(net, features, task_ids)["score"]
    on_cpu = predict(net.to("cpu"), features, task_ids)["score"]
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-4)


def test_eager_serving_on_cuda_matches_cpu():
    features, task_ids, _ = rows(2)
    net = model().eval()
    on_cpu, on_gpu = eager_predictor(net, 1, "cpu"), eager_predictor(net, 1, "cuda")
    assert next(net.parameters()).device.type == "cpu", "a predictor must not move the caller's model"
    np.testing.assert_allclose(on_gpu(features, task_ids), on_cpu(features, task_ids), atol=1e-3)
