"""AutoTask's gate p(seen task | x) fitted again on its own after training (the model config's `gate_fit = "refit"`;
a switch, not the default).

The gate reads the model inputs through its own parameters and never changes what the facets learn. Beside the facets
it trains on their schedule (warm-up, decay, early stopping on the seen scenarios' AUC) and stops far from converged:
on the development data its validation log-likelihood was -2.25 where the same linear gate fitted alone reached -2.00,
and the onboarding profile read from the refitted gate gained 0.4 points of unseen AUC there. On the held-out
benchmark worlds it lost 0.8 on the served `gated` rule and 0.3 with onboarding (docs/worlds.md, "The gate fitted on
its own"), so `joint` stays the default. The refit starts from a fresh linear layer (seeded by the run's seed),
trains on the seen rows of the training splits (pre-training pool included, as the loop's gate loss does) with Adam
until its validation log-likelihood has not improved for GATE_FIT_PATIENCE epochs, and replaces the trained gate
only when it is better on validation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autotask.training.batches import FEATURES, TASK_ID

GATE_FIT_LR = 3e-3
GATE_FIT_WEIGHT_DECAY = 1e-5
GATE_FIT_BATCH = 512
GATE_FIT_PATIENCE = 5
GATE_FIT_MAX_EPOCHS = 300
GATE_FIT_MAX_ROWS = 500_000  # a larger training set is subsampled (seeded): the gate is one linear layer
TRAINING_SPLITS = ("train", "pretrain")


def seen_rows(arrays: list[dict], max_rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, 0-based seen ids) of the rows with a seen id in `arrays` (dicts of model inputs), at most `max_rows`
    of them (a seeded sample)."""
    features = np.concatenate([a[FEATURES] for a in arrays])
    ids = np.concatenate([a[TASK_ID] for a in arrays]).astype(np.int64)
    keep = np.flatnonzero(ids > 0)
    if len(keep) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_rows, replace=False))
    return torch.from_numpy(np.ascontiguousarray(features[keep])), torch.from_numpy(ids[keep] - 1)


@torch.no_grad()
def log_likelihood(gate: nn.Module, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean log p(true seen id | x) under `gate`."""
    return -F.cross_entropy(gate(features), labels).item()


def refit_gate(gate: nn.Linear, train: tuple[torch.Tensor, torch.Tensor], valid: tuple[torch.Tensor, torch.Tensor],
               seed: int) -> dict:
    """Fit a fresh linear gate on `train` until `valid`'s log-likelihood stops improving; copy it into `gate` when it
    beats `gate`'s own. Returns the record kept in the run's history.json."""
    joint = log_likelihood(gate, *valid)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the CPU generator only: no CUDA set-up in the driver
        torch.manual_seed(seed)
        fresh = nn.Linear(gate.in_features, gate.out_features)
    optimizer = torch.optim.Adam(fresh.parameters(), lr=GATE_FIT_LR, weight_decay=GATE_FIT_WEIGHT_DECAY)
    best, best_state, best_epoch, epoch = float("-inf"), None, 0, 0
    for epoch in range(1, GATE_FIT_MAX_EPOCHS + 1):
        for rows in torch.randperm(len(train[1]), generator=generator).split(GATE_FIT_BATCH):
            optimizer.zero_grad()
            F.cross_entropy(fresh(train[0][rows]), train[1][rows]).backward()
            optimizer.step()
        score = log_likelihood(fresh, *valid)
        if score > best:
            best, best_epoch = score, epoch
            best_state = {name: value.clone() for name, value in fresh.state_dict().items()}
        elif epoch - best_epoch >= GATE_FIT_PATIENCE:
            break
    kept = "refit" if best > joint else "joint"
    if kept == "refit":
        gate.load_state_dict(best_state)
    return {"kept": kept, "valid_log_likelihood": {"joint": joint, "refit": best}, "epochs": epoch,
            "best_epoch": best_epoch, "rows": len(train[1])}


def refits_gate(model: nn.Module) -> bool:
    """Whether `model` has a gate and its config asks for the refit."""
    return getattr(model, "gate", None) is not None and getattr(model.config, "gate_fit", "joint") == "refit"


def fit_gate_after_training(model: nn.Module, read_splits: Callable[[], dict], seed: int) -> dict | None:
    """Refit `model`'s gate when its config asks for it; `read_splits` (called only then) gives the run's "train",
    "pretrain" and "valid" MemorySplits. None when the model has no gate or keeps the jointly trained one."""
    return refit_gate_on_splits(model.gate, read_splits(), seed) if refits_gate(model) else None


def refit_gate_on_splits(gate: nn.Linear, splits: dict, seed: int) -> dict:
    """`refit_gate` on the seen rows of the training splits (pool included) and of "valid"."""
    train = seen_rows([splits[name].arrays for name in TRAINING_SPLITS if name in splits], GATE_FIT_MAX_ROWS, seed)
    valid = seen_rows([splits["valid"].arrays], GATE_FIT_MAX_ROWS, seed)
    if not len(train[1]) or not len(valid[1]):
        return {"kept": "joint", "reason": "no seen training or validation rows"}
    return refit_gate(gate, train, valid, seed)
