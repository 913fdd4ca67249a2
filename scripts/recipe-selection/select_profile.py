"""Choosing how an unseen scenario's profile is estimated from N unlabelled rows, on development data only
(docs/worlds.md, "Onboarding: moment-matched profiles" and "Onboarding by EM").

  .venv/bin/python scripts/recipe-selection/select_profile.py --rows 200 \
      --pair data/select-2/worlds/world-00 data/select-2/runs/world-00/in-memory ...

Estimators: the gate's mean p(task | x) at several sharpening powers (`gate`, power 2), moment matching (`moments`,
the default), EM on the gate's posteriors alone (Saerens et al. 2002; on the gate as trained and on the gate
recalibrated on the validation split's seen rows) and the product's `em` (EM on the recalibrated gate, shrunk toward
the gate's profile). Each --pair is DATA RUN_DIR: a contract dataset and a finished AutoTask run trained on it
(selection worlds of world seed 1 or 2, simulator seeds, Home Depot: never the benchmark's world seed 0). The
onboarding sample is the unseen scenario's first N `onboard` rows; a dataset without that split lends the first half
of each unseen scenario's test rows and is scored on the second half only, so a profile never sees the rows it
scores. Runs trained before the loop kept AutoTask's seen means get them from the training splits, and runs whose
gate was not recalibrated get the recalibration from their validation split, as training now does. Prints the mean
unseen test ROC AUC (%) per dataset and estimator, and the mean over datasets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from autotask.benchmarks.unseen_scoring import with_unseen_statistics
from autotask.data.contract import ONBOARD, SCENARIO, SPLIT
from autotask.data.io import read_frame
from autotask.data.manifest import Manifest
from autotask.evaluation.metrics import binary_aucs
from autotask.models import unseen
from autotask.models.language import reads_language
from autotask.models.unseen import sharpened_profile
from autotask.serving.model import load_run_model
from autotask.training.batches import FEATURES, TARGET, TASK_ID, model_features
from autotask.training.feeds import read_memory_splits
from autotask.training.gate_fit import refit_gate_on_splits
from autotask.training.outputs import read_eval_frame


def softmax_gate(model, rows: torch.Tensor) -> torch.Tensor:
    return torch.softmax(model.gate(rows), -1)


def estimators(model, sample: torch.Tensor) -> dict[str, np.ndarray]:
    """Seen-id weights for one scenario from its sample's model inputs, per estimator."""
    gate = softmax_gate(model, sample).mean(0)
    weights = {f"gate profile, power {p:g}": (gate ** p / (gate ** p).sum()) for p in (1, 2, 3, 4)}
    weights["gate profile, power 2, half uniform"] = 0.5 * sharpened_profile(gate) + 0.5 / len(gate)
    saved_ridge = unseen.MOMENTS_RIDGE
    for ridge in (0.0, 0.01, 0.1, 1.0):  # the model's estimator under each ridge toward the gate's profile
        unseen.MOMENTS_RIDGE = ridge
        weights[f"moments, ridge {ridge:g}"] = model.scenario_profile(sample, estimator="moments")
    unseen.MOMENTS_RIDGE = saved_ridge
    weights["moments (ridge 0) and gate profile, halves"] = (0.5 * weights["moments, ridge 0"]
                                                             + 0.5 * sharpened_profile(gate))
    everyone = torch.ones(len(gate), dtype=torch.bool)
    weights["EM alone, the gate as trained"] = unseen.em_proportions(softmax_gate(model, sample), model.seen_counts,
                                                                    everyone)
    weights["EM alone, recalibrated gate"] = unseen.em_proportions(model.calibrated_gate(sample),
                                                                  model.gate_calibration_counts, everyone)
    weights[f"em: EM on the recalibrated gate, {unseen.EM_SHARE:g} of it, and gate profile"] = (
        model.scenario_profile(sample, estimator="em"))
    return {name: w.numpy() for name, w in weights.items()}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@torch.no_grad()
def dataset_row(data: Path, run: Path, rows: int, logit_space: bool = False, refit: bool = False
                ) -> dict[str, float]:
    manifest = Manifest.from_dict(json.loads((data / "manifest.json").read_text()))
    frame, inputs = read_eval_frame(str(data), manifest)
    model = with_unseen_statistics(load_run_model(run), data, manifest)
    if refit:  # the gate fitted again on its own, as runs trained with gate_fit="refit" have it
        with torch.enable_grad():
            seed = json.loads((run / "config.json").read_text()).get("seed", 0)
            splits = read_memory_splits(str(data), manifest, language=reads_language(model.config))
            print(run, refit_gate_on_splits(model.gate, splits, seed))
    onboard = read_frame(str(data), columns=[SCENARIO, SPLIT, *manifest.features], splits=(ONBOARD,))
    test = (frame[SPLIT] == "test").to_numpy() & (inputs[TASK_ID] == 0)
    carve = len(onboard) == 0
    if carve:
        unseen_test = frame[test]
        onboard = pd.concat([g.iloc[: len(g) // 2] for _, g in unseen_test.groupby(SCENARIO, observed=True)])
    scenarios = frame[SCENARIO].astype(str).to_numpy()[test]
    features = torch.from_numpy(inputs[FEATURES][test])
    per_task = model.seen_task_probabilities(features).numpy()
    gate_rows = torch.softmax(model.gate(features), -1).numpy()
    aucs: dict[str, list[float]] = {}
    for scenario in manifest.unseen:
        mask = scenarios == scenario
        if carve:
            mask &= np.cumsum(mask) > mask.sum() // 2
        labels = inputs[TARGET][test][mask]
        sample = torch.from_numpy(model_features(onboard[onboard[SCENARIO] == scenario].head(rows), manifest))
        scores = {"gated (served, per row)": (per_task[mask] * gate_rows[mask]).sum(1),
                  "mixture (per row)": per_task[mask].mean(1)}
        weights = estimators(model, sample)
        scores.update({name: per_task[mask] @ w for name, w in weights.items()})
        if logit_space:  # the same weights on the seen ids' logits instead of their probabilities
            logits = _logit(per_task[mask])
            profile = weights["gate profile, power 2"]
            scores.update({"gated, logit space": (logits * gate_rows[mask]).sum(1),
                           "gate profile, power 2, logit space": logits @ profile})
        for name, values in scores.items():
            aucs.setdefault(name, []).append(binary_aucs(labels, values)[0])
    return {name: 100 * float(np.nanmean(values)) for name, values in aucs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", nargs=2, action="append", required=True, metavar=("DATA", "RUN_DIR"))
    p.add_argument("--rows", type=int, default=200, help="onboarding rows per unseen scenario")
    p.add_argument("--refit-gate", action="store_true",
                   help="refit each run's gate on its own first (training/gate_fit.py), as gate_fit='refit' does")
    p.add_argument("--logit-space", action="store_true",
                   help="also mix the seen ids' logits (not their probabilities) with the served and profile weights")
    args = p.parse_args()
    torch.set_num_threads(1)
    table = pd.DataFrame({run: dataset_row(Path(data), Path(run), args.rows, args.logit_space, args.refit_gate)
                          for data, run in args.pair}).T
    print(table.round(2).to_string())
    print("\nmean over datasets\n" + table.mean().round(2).to_string())


if __name__ == "__main__":
    main()
