"""The quality and worlds suites' scoring of a trained AutoTask run's weights under choices made at scoring time.

Unseen-scenario rows under every rule for id 0 (`zero`, `mixture`, `gated`, and the in-context `profile` under
every estimator), with a validation proxy that needs no unseen rows: each seen scenario's validation rows scored
without their own id (id 0 for `zero`; the mixture over the other seen ids, renormalised, otherwise); and the same
weights scored with facet-2 blocks of 1, 4 and 16 rows of one scenario (the in-context block mode, never the served
default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from autotask.benchmarks.stats import finite_mean
from autotask.data.contract import SCENARIO, SPLIT
from autotask.data.manifest import Manifest
from autotask.evaluation.metrics import binary_aucs
from autotask.models.language import reads_language
from autotask.training.batches import FEATURES, GROUP, TARGET, TASK_ID
from autotask.training.feeds import read_memory_splits
from autotask.training.gate_calibration import fit_gate_calibration
from autotask.training.gate_fit import GATE_FIT_MAX_ROWS, TRAINING_SPLITS, seen_rows
from autotask.training.steps import predict

# profile-*: the in-context mode (score_context) with each profile estimator (models/unseen.py), same weights.
UNSEEN_RULES = ("zero", "mixture", "gated", "profile-gate", "profile-moments", "profile-em")
IN_CONTEXT_BLOCKS = (1, 4, 16)  # facet-2 blocks of one scenario's test rows at scoring (1 = as served)


@torch.no_grad()
def unseen_rule_rows(model, frame: pd.DataFrame, inputs: dict) -> list[dict]:
    """Per rule: mean test ROC AUC (%) over unseen scenarios and the leave-own-id-out validation proxy (%)."""
    features = torch.from_numpy(inputs[FEATURES])
    ids, labels, scenarios = inputs[TASK_ID], inputs[TARGET], frame[SCENARIO].astype(str).to_numpy()
    split = frame[SPLIT].to_numpy()
    per_task = model.seen_task_probabilities(features).numpy()  # [rows, n_tasks]: block size 1
    gate = torch.softmax(model.gate(features), dim=-1).numpy()
    zero = _scores_under_rule(model, "zero", features, torch.zeros(len(ids), dtype=torch.long))
    rows = []
    for rule in UNSEEN_RULES:
        if rule.startswith("profile"):  # one weighting per scenario and split, from its rows
            weights, own_out = _profiles(model, features, ids, scenarios, split, rule.removeprefix("profile-"))
        else:
            weights = gate if rule == "gated" else np.full_like(per_task, 1.0 / per_task.shape[1])
            own_out = weights.copy()
            own_out[ids > 0, ids[ids > 0] - 1] = 0.0  # leave the row's own id out of the mixture
            own_out /= own_out.sum(1, keepdims=True)
        proxy_scores = zero if rule == "zero" else (per_task * own_out).sum(1)
        unseen_scores = zero if rule == "zero" else (per_task * weights).sum(1)
        rows.append({"rule": rule,
                     "valid_proxy": _scenario_mean(labels, proxy_scores, scenarios, (split == "valid") & (ids > 0)),
                     "test_unseen": _scenario_mean(labels, unseen_scores, scenarios, (split == "test") & (ids == 0))})
    return rows


def _profiles(model, features, ids: np.ndarray, scenarios: np.ndarray, split: np.ndarray, estimator: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's weights replaced by its (scenario, split) group's `AutoTask.scenario_profile` under `estimator`:
    as estimated, and with a seen group's own id left out (the validation proxy)."""
    weights, own_out = (np.empty((len(ids), model.config.n_tasks), dtype=np.float32) for _ in range(2))
    for key in set(zip(scenarios, split, strict=True)):
        rows = (scenarios == key[0]) & (split == key[1])
        own = int(ids[rows][0])
        weights[rows] = model.scenario_profile(features[rows], estimator=estimator).numpy()
        own_out[rows] = weights[rows] if not own else model.scenario_profile(  # an unseen group has no own id
            features[rows], exclude=own, estimator=estimator).numpy()
    return weights, own_out


def _scores_under_rule(model, rule: str, features, task_ids) -> np.ndarray:
    """Block-size-1 probabilities with the model's `unseen` rule switched to `rule` (same weights)."""
    saved, model.config.unseen = model.config.unseen, rule
    try:
        return torch.sigmoid(model(features, task_ids, 1)).numpy()
    finally:
        model.config.unseen = saved


def _scenario_mean(labels, scores, scenarios, mask) -> float:
    return 100 * finite_mean(binary_aucs(labels[mask & (scenarios == s)], scores[mask & (scenarios == s)])[0]
                       for s in np.unique(scenarios[mask]))


def block_rows(model, frame: pd.DataFrame, inputs: dict) -> list[dict]:
    """Test ROC AUC (%) of seen and unseen scenarios with facet-2 blocks of t rows of one scenario (in file order),
    for each t in IN_CONTEXT_BLOCKS: how much facet 2's cross-row attention adds when a block is given."""
    test = (frame[SPLIT] == "test").to_numpy()
    labels, ids = inputs[TARGET][test], inputs[TASK_ID][test]
    scenarios = frame[SCENARIO].astype(str).to_numpy()[test]
    rows = []
    for t in IN_CONTEXT_BLOCKS:
        scores = predict(model, inputs[FEATURES][test], ids, groups=inputs[GROUP][test], block_size=t)["score"]
        rows.append({"block_size": t, "seen": _scenario_mean(labels, scores, scenarios, ids > 0),
                     "unseen": _scenario_mean(labels, scores, scenarios, ids == 0)})
    return rows


def with_unseen_statistics(model, data: Path, manifest: Manifest):
    """A run trained before the loop kept AutoTask's seen means, or before its gate was recalibrated after training
    (only `profile = "em"` runs are): set them from the run's splits as training does (the means from the training
    splits' seen rows, the recalibration from the validation split's, `seen_rows`), so every profile estimator can be
    measured on its weights. Other models are returned as they are."""
    if getattr(model, "gate", None) is None:
        return model
    means_unset, uncalibrated = not bool(model.seen_counts.any()), not bool(model.gate_calibration_counts.any())
    if not (means_unset or uncalibrated):
        return model
    splits = read_memory_splits(str(data), manifest, language=reads_language(model.config))
    if means_unset:
        training = [splits[name].arrays for name in TRAINING_SPLITS]
        features, ids = seen_rows(training, sum(len(a[TASK_ID]) for a in training), seed=0)  # every row, as the loop
        model.fit_seen_means(features, ids + 1)
    if uncalibrated:
        fit_gate_calibration(model, *seen_rows([splits["valid"].arrays], GATE_FIT_MAX_ROWS, seed=0))
    return model


