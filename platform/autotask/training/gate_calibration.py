"""AutoTask's gate recalibrated after training, for `em` onboarding profiles (models/unseen.py).

EM on a classifier's posteriors needs them calibrated (Alexandari et al. 2020, "Maximum Likelihood with
Bias-Corrected Calibration is Hard-To-Beat at Label Shift Adaptation"); the gate trained beside the facets stops far
from converged (training/gate_fit.py). Bias-corrected temperature scaling fits one temperature and a bias per seen id
on the validation split's seen rows (their scenario ids are the labels: no relevance label is read), by L-BFGS on
the id log-likelihood, and keeps them in the model's `gate_calibration` buffer with the rows' id counts (the prior
the recalibrated posteriors carry). The gate itself, the served `gated` rule and the `gate` profile are untouched.
Like the refit, it reads the run's splits into the driver's memory (only "valid" is used).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from autotask.training.gate_fit import GATE_FIT_MAX_ROWS, log_likelihood, seen_rows

CALIBRATION_ITERATIONS = 500


def calibrates_gate(model: nn.Module) -> bool:
    """Whether `model` has a gate and its config reads the recalibration (`profile = "em"`)."""
    return getattr(model, "gate", None) is not None and getattr(model.config, "profile", "gate") == "em"


def calibrate_gate_after_training(model: nn.Module, read_splits: Callable[[], dict], seed: int) -> dict | None:
    """Recalibrate `model`'s gate on the "valid" split of `read_splits()` (called only when the config reads it)."""
    if not calibrates_gate(model):
        return None
    features, ids = seen_rows([read_splits()["valid"].arrays], GATE_FIT_MAX_ROWS, seed)
    return fit_gate_calibration(model, features, ids)


def fit_gate_calibration(model: nn.Module, features: torch.Tensor, ids: torch.Tensor) -> dict:
    """Fit the temperature and biases on (features, 0-based seen ids) into the model's buffers; the history record."""
    if not len(ids):
        return {"calibrated": False, "reason": "no seen validation rows"}
    with torch.no_grad():
        logits = model.gate(features)
    log_temperature = torch.zeros(1, device=logits.device, requires_grad=True)
    bias = torch.zeros(logits.shape[1], device=logits.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature, bias], max_iter=CALIBRATION_ITERATIONS,
                                  line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(logits * torch.exp(-log_temperature) + bias, ids)
        value.backward()
        return value

    before = log_likelihood(model.gate, features, ids)
    with torch.enable_grad():
        optimizer.step(loss)
    log_temperature, bias = log_temperature.detach(), bias.detach()
    with torch.no_grad():
        model.gate_calibration.copy_(torch.cat([log_temperature, bias]))
        model.gate_calibration_counts.copy_(torch.bincount(ids, minlength=logits.shape[1]).float())
        after = float(F.cross_entropy(logits * torch.exp(-log_temperature) + bias, ids))
    return {"calibrated": True, "rows": len(ids), "temperature": float(torch.exp(log_temperature)),
            "valid_log_likelihood": {"gate": before, "recalibrated": -after}}
