"""The weight average (TrainingConfig.weight_average_epochs): its arithmetic, swap-in and checkpoint round trip."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autotask.config import TrainingConfig
from autotask.runtime.local import LocalSession
from autotask.training.averaging import WeightAverage, steps_per_epoch
from autotask.training.loop import TrainState, _report, _restore, _weight_average


def stepped(model: nn.Module, average: WeightAverage, steps: int, seed: int = 0) -> list[torch.Tensor]:
    """Random weight moves, each followed by an update; returns the weights after each move."""
    generator = torch.Generator().manual_seed(seed)
    seen = []
    for _ in range(steps):
        with torch.no_grad():
            model.weight.add_(torch.randn(model.weight.shape, generator=generator))
        average.update()
        seen.append(model.weight.detach().clone())
    return seen


def test_plain_mean_until_the_horizon_then_exponential():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, horizon_epochs=2)
    average.set_steps_per_epoch(5)  # decay 1 - 1/10
    seen = stepped(model, average, 10)
    assert torch.allclose(average.shadow[0], torch.stack(seen).mean(dim=0), atol=1e-6)  # initial weights dropped
    expected = average.shadow[0].clone()
    seen = stepped(model, average, 3, seed=1)
    for weights in seen:
        expected = 0.9 * expected + 0.1 * weights
    assert torch.allclose(average.shadow[0], expected, atol=1e-6)


def test_applied_swaps_the_average_in_and_the_trained_weights_back():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, horizon_epochs=1)
    average.set_steps_per_epoch(4)
    stepped(model, average, 6)
    trained = model.weight.detach().clone()
    with average.applied():
        assert torch.equal(model.weight, average.shadow[0])
        assert not torch.equal(model.weight, trained)
    assert torch.equal(model.weight, trained)


def test_checkpoint_round_trip_continues_the_same_average():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, horizon_epochs=1)
    average.set_steps_per_epoch(3)
    stepped(model, average, 4)
    resumed = WeightAverage(model, horizon_epochs=1)
    resumed.set_steps_per_epoch(3)
    resumed.load_state_dict(average.state_dict())
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update()
    resumed.update()
    assert torch.allclose(average.shadow[0], resumed.shadow[0]) and resumed.updates == average.updates == 5


def test_steps_per_epoch_and_config_check():
    assert steps_per_epoch(1000, 256, 1) == 4 and steps_per_epoch(1000, 256, 2) == 2 and steps_per_epoch(0, 8, 1) == 1
    with pytest.raises(ValueError, match="weight_average_epochs must be >= 0"):
        TrainingConfig(weight_average_epochs=-1)


def test_a_resumed_loop_continues_the_checkpointed_average(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    average = WeightAverage(model, horizon_epochs=1)
    average.set_steps_per_epoch(3)
    stepped(model, average, 5)
    session = LocalSession({}, tmp_path / "checkpoint")
    _report({}, model, optimizer, TrainState(), None, True, session, average)
    restarted = nn.Linear(3, 2)
    state, _, saved = _restore(restarted, torch.optim.Adam(restarted.parameters()), session)
    resumed = _weight_average(restarted, 1, saved)
    assert torch.equal(restarted.weight, model.weight) and state.restarts == 1
    assert torch.equal(resumed.shadow[0], average.shadow[0]) and resumed.updates == 5


def test_a_checkpoint_without_an_average_starts_it_from_the_restored_weights(tmp_path):
    model = nn.Linear(3, 2)
    session = LocalSession({}, tmp_path / "checkpoint")
    _report({}, model, torch.optim.Adam(model.parameters()), TrainState(), None, True, session)
    restarted = nn.Linear(3, 2)
    _, best, saved = _restore(restarted, torch.optim.Adam(restarted.parameters()), session)
    resumed = _weight_average(restarted, 2, saved)
    assert saved is None and resumed.updates == 0 and torch.equal(resumed.shadow[0], model.weight)
    assert _weight_average(restarted, 0, saved) is None and torch.equal(best["weight"], model.weight)
