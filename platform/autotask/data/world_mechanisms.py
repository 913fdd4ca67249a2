"""One random world's generating process, drawn: sizes, how features are correlated, observed, shifted by scenario
and missing, how the scenario changes the relevance function, the labels, and the unseen scenarios (convex mixtures
of 2-3 seen ones or novel latents). data/worlds.py turns it into rows; `spec` is what `worlds.json` records.

The order of the draws is part of the generator (GENERATOR_VERSION in data/worlds.py): a seed draws the same world
only while every draw happens in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENARIO_RANGE = (4, 30)  # seen scenarios per world
UNSEEN_RANGE = (2, 3)  # unseen scenarios per world: at least one mixture and one novel latent
TRANSFORMS = ("raw", "similarity", "score", "flag", "count")  # how a latent feature value is observed


@dataclass
class Mechanisms:
    """One world's drawn generating process (everything `worlds.json` records, plus the arrays it implies)."""

    spec: dict  # JSON-able record
    latent: np.ndarray  # [scenarios, k]
    loadings: np.ndarray  # [d] on the query's match strength
    blocks: np.ndarray  # [d] block of each feature
    block_rho: np.ndarray  # [blocks]
    shift: np.ndarray  # [k, d] covariate shift per unit of latent
    transforms: list[str]
    missing: np.ndarray  # [scenarios, d] bool: feature constant in that scenario
    shared: np.ndarray  # [d]
    mixing: np.ndarray  # [k, d]
    pairs: list[tuple[int, int, np.ndarray, float]]  # (i, j, gate vector [k], amplitude)
    steps: list[tuple[int, float, np.ndarray, float]]  # (j, threshold, latent direction [k], amplitude)


def draw_mechanisms(rng: np.random.Generator, name: str) -> Mechanisms:
    """Draw one world's process: sizes, features, scenario effects, labels (recorded in `spec`)."""
    d = int(rng.integers(8, 21))
    k = int(rng.integers(2, 5))
    n_seen = int(rng.integers(SCENARIO_RANGE[0], SCENARIO_RANGE[1] + 1))
    n_unseen = int(rng.integers(UNSEEN_RANGE[0], UNSEEN_RANGE[1] + 1))
    seen_latent = rng.normal(0.0, 1.0, (n_seen, k))
    unseen_latent, unseen_records = _draw_unseen(rng, seen_latent, n_unseen)
    latent = np.vstack([seen_latent, unseen_latent])
    features, feature_spec = _draw_features(rng, d, k, len(latent))
    effects, effect_spec = _draw_effects(rng, d, k)
    spec = {
        "name": name, "d": d, "latent_dim": k, "seen": n_seen, "unseen": unseen_records,
        "features": feature_spec, "effects": effect_spec, "labels": _draw_labels(rng, len(latent)),
        "size_tail": round(float(rng.uniform(0.6, 1.6)), 3),
    }
    return Mechanisms(spec=spec, latent=latent, **features, **effects)


def _draw_unseen(rng: np.random.Generator, seen_latent: np.ndarray, n_unseen: int) -> tuple[np.ndarray, list]:
    """The unseen scenarios' latents and records: a convex mixture of 2-3 seen ones, a novel latent, then either."""
    n_seen, k = seen_latent.shape
    kinds = ["mixture", "novel"] + [str(v) for v in rng.choice(["mixture", "novel"], n_unseen - 2)]
    latents, records = [], []
    for kind in kinds:
        if kind == "mixture":
            parents = rng.choice(n_seen, size=int(rng.integers(2, 4)), replace=False)
            weights = rng.dirichlet(np.ones(len(parents)))
            latents.append(weights @ seen_latent[parents])
            records.append({"kind": kind, "parents": [int(p) for p in parents],
                            "weights": [round(float(w), 4) for w in weights]})
        else:
            latents.append(rng.normal(0.0, 1.0, k))
            records.append({"kind": kind})
    return np.array(latents), records


def _draw_features(rng: np.random.Generator, d: int, k: int, n_scenarios: int) -> tuple[dict, dict]:
    """How features are correlated (blocks), load on the query's match, shift by scenario, are observed and missing:
    (Mechanisms fields, the spec's record)."""
    n_blocks = int(rng.integers(1, 5))
    blocks = rng.integers(0, n_blocks, d)
    block_rho = rng.uniform(0.1, 0.8, n_blocks)
    loadings = rng.uniform(0.2, 1.0, d) * rng.choice([-1.0, 1.0], d, p=[0.2, 0.8])
    shift_strength = float(rng.choice([0.0, rng.uniform(0.2, 1.0)], p=[0.25, 0.75]))
    shift = rng.normal(0.0, 1.0, (k, d)) * shift_strength / np.sqrt(k)
    transforms = [str(v) for v in rng.choice(TRANSFORMS, d, p=[0.25, 0.25, 0.2, 0.15, 0.15])]
    missing = np.zeros((n_scenarios, d), dtype=bool)
    missing_features = []
    if rng.random() < 0.6:
        for j in rng.choice(d, size=int(rng.integers(1, 3)), replace=False):
            scenarios = rng.random(n_scenarios) < rng.uniform(0.15, 0.4)
            missing[scenarios, j] = True
            missing_features.append({"feature": int(j), "scenarios": [int(s) for s in np.flatnonzero(scenarios)]})
    fields = {"loadings": loadings, "blocks": blocks, "block_rho": block_rho, "shift": shift,
              "transforms": transforms, "missing": missing}
    return fields, {"transforms": transforms, "blocks": int(n_blocks), "block_correlation": _round(block_rho),
                    "covariate_shift": round(shift_strength, 3), "missing": missing_features}


def _draw_effects(rng: np.random.Generator, d: int, k: int) -> tuple[dict, dict]:
    """How the scenario changes the relevance function (shared weights, latent mixing, gated pairs, steps):
    (Mechanisms fields, the spec's record)."""
    shared_strength = float(rng.uniform(0.1, 1.0))
    scenario_strength = float(rng.uniform(0.1, 1.0))
    shared = rng.normal(0.0, shared_strength, d) * (rng.random(d) < 0.7)
    mixing = rng.normal(0.0, scenario_strength, (k, d)) * (rng.random((k, d)) < 0.6) / np.sqrt(k)
    pair_strength = float(rng.uniform(0.3, 1.5))
    pairs = [(int(i), int(j), rng.normal(0.0, 1.5, k), pair_strength * float(rng.choice([-1.0, 1.0])))
             for i, j in (rng.choice(d, 2, replace=False) for _ in range(int(rng.integers(0, 5))))]
    step_strength = float(rng.uniform(0.4, 1.5))
    steps = [(int(rng.integers(d)), float(rng.normal(0.0, 0.6)), rng.normal(0.0, 0.7, k), step_strength)
             for _ in range(int(rng.integers(0, 4)))]
    fields = {"shared": shared, "mixing": mixing, "pairs": pairs, "steps": steps}
    return fields, {"shared_strength": round(shared_strength, 3), "scenario_strength": round(scenario_strength, 3),
                    "gated_pairs": [[i, j] for i, j, _, _ in pairs], "pair_strength": round(pair_strength, 3),
                    "steps": [j for j, *_ in steps], "step_strength": round(step_strength, 3)}


def _draw_labels(rng: np.random.Generator, n_scenarios: int) -> dict:
    """The labels' record: logit scale, positive rates, label noise, whether a soft-label pool exists (its
    teacher's noise)."""
    has_pool = bool(rng.random() < 0.5)
    return {"logit_scale": round(float(rng.uniform(1.2, 3.0)), 3),
            "positive_rate": _round(np.exp(rng.uniform(np.log(0.05), np.log(0.5), n_scenarios))),
            "label_noise": round(float(rng.uniform(0.0, 0.08)), 4),
            "pretrain_pool": has_pool,
            "teacher_noise": round(float(rng.uniform(0.2, 1.5)), 3) if has_pool else None}


def _round(values) -> list[float]:
    return [round(float(v), 4) for v in values]
