"""Random worlds: many small multi-scenario datasets, each drawn from its own mix of generating mechanisms.

No single recipe can be fitted to them: every world draws its number of features and scenarios, how features are
correlated, transformed, shifted by scenario and missing, how the scenario changes the relevance function (linear
weights from a low-rank scenario latent, scenario-gated pairwise interactions, per-scenario step functions,
per-scenario bias, a shared part of varying strength), positive rates, label noise, whether a soft-label pretrain
pool exists and how noisy its teacher is, long-tailed scenario sizes, and unseen scenarios that are either convex
mixtures of 2-3 seen ones or novel latents. Every draw is recorded in `worlds.json`.

The true logit is a function of the *observed* features and the scenario, so `oracle_p` (the probability of label 1,
label noise included; test split) is the best any model could score. Each unseen scenario has an unlabelled
onboarding sample (split `onboard`, drawn before and disjoint from its test rows) that no model trains on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from autotask.data.contract import (
    FEATURE_DTYPE,
    LABEL,
    ONBOARD,
    ORACLE_P,
    QUERY_ID,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SPLIT,
    TRAINING_SPLITS,
)
from autotask.data.io import RunningStats
from autotask.data.manifest import Manifest
from autotask.data.world_mechanisms import SCENARIO_RANGE, UNSEEN_RANGE, Mechanisms, draw_mechanisms

GENERATOR_VERSION = 1  # bump when a seed would draw different worlds
DEFAULT_ROWS = 16_000  # labelled and unlabelled rows of one world, onboarding samples included
MIN_SCENARIO_ROWS = 250  # rows of the smallest seen scenario, at least
SMALLEST_MAX_ROWS = 450  # ... and at most: it has at most 300 training rows
ONBOARD_ROWS = 1_000  # unlabelled onboarding rows per unseen scenario
UNSEEN_TEST_ROWS = 600  # labelled test rows per unseen scenario
SPLITS_WITH_POOL = {"pretrain": 0.35, "train": 0.30, "valid": 0.10, "calib": 0.05, "test": 0.20}
SPLITS_WITHOUT_POOL = {"train": 0.60, "valid": 0.12, "calib": 0.08, "test": 0.20}


@dataclass(frozen=True)
class WorldsConfig:
    """`count` worlds of `rows` rows each, drawn from `seed`."""

    count: int = 12
    seed: int = 0
    rows: int = DEFAULT_ROWS

    def problems(self) -> list[str]:
        """What is wrong with the request, in the runner's flag names (empty when it can be built)."""
        problems = []
        if self.count < 1:
            problems.append(f"--count {self.count}: at least 1 world")
        if self.seed < 0:
            problems.append(f"--seed {self.seed}: must be >= 0")
        if self.rows < min_rows():
            problems.append(f"--rows {self.rows:,}: too few for the scenarios a world may draw ({SCENARIO_RANGE[1]} "
                            f"seen scenarios of at least {MIN_SCENARIO_ROWS} rows and {UNSEEN_RANGE[1]} unseen ones of "
                            f"{ONBOARD_ROWS + UNSEEN_TEST_ROWS} rows); use --rows {min_rows():,} or more")
        return problems

    def source(self) -> dict:
        return {"kind": "worlds", "generator_version": GENERATOR_VERSION, **asdict(self)}


def min_rows() -> int:
    """Rows a world needs at most: the most seen scenarios at their least size, and the most unseen ones."""
    return (SCENARIO_RANGE[1] * MIN_SCENARIO_ROWS + SMALLEST_MAX_ROWS - MIN_SCENARIO_ROWS
            + UNSEEN_RANGE[1] * (ONBOARD_ROWS + UNSEEN_TEST_ROWS))


def world_name(index: int) -> str:
    return f"world-{index:02d}"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def scenario_sizes(rng: np.random.Generator, n_seen: int, seen_rows: int, tail: float) -> np.ndarray:
    """Long-tailed seen scenario sizes: the smallest has MIN..SMALLEST_MAX rows, the rest shares of rank^-tail."""
    smallest = int(rng.integers(MIN_SCENARIO_ROWS, SMALLEST_MAX_ROWS + 1))
    shares = np.arange(1, n_seen) ** -tail
    rest = seen_rows - smallest - MIN_SCENARIO_ROWS * (n_seen - 1)
    sizes = MIN_SCENARIO_ROWS + np.floor(rest * shares[rng.permutation(n_seen - 1)] / shares.sum()).astype(int)
    return np.append(sizes, smallest)


def observe(x: np.ndarray, transforms: list[str], rng: np.random.Generator) -> np.ndarray:
    """Extracted-looking features from latent values: bounded similarities, skewed scores, flags, counts."""
    out = np.empty_like(x)
    for j, kind in enumerate(transforms):
        column = x[:, j]
        out[:, j] = {"raw": lambda c: c,
                     "similarity": lambda c: _sigmoid(1.2 * c),
                     "score": lambda c: np.exp(0.6 * c),
                     "flag": lambda c: (c > 0.8).astype(float),
                     "count": lambda c: rng.poisson(np.exp(0.5 * c + 0.5)).astype(float)}[kind](column)
    return out


def signal_inputs(observed: np.ndarray, transforms: list[str]) -> np.ndarray:
    """The values the true logit is built from: a fixed function of the observed features (so the oracle is
    reachable by a model that sees the features and the scenario)."""
    u = np.empty_like(observed)
    for j, kind in enumerate(transforms):
        c = observed[:, j]
        u[:, j] = {"raw": lambda c: c,
                   "similarity": lambda c: np.log(np.clip(c, 1e-4, 1 - 1e-4) / np.clip(1 - c, 1e-4, 1)) / 1.2,
                   "score": lambda c: np.log(np.maximum(c, 1e-6)) / 0.6,
                   "flag": lambda c: 2.0 * c - 1.0,
                   "count": lambda c: np.log1p(c) * 1.5}[kind](c)
    return u


def base_logit(u: np.ndarray, scenario: np.ndarray, world: Mechanisms) -> np.ndarray:
    """The scenario-dependent relevance logit, before the per-scenario bias and scale."""
    z = world.latent[scenario]
    weights = world.shared + z @ world.mixing
    logit = np.einsum("ij,ij->i", u, weights)
    for i, j, gate, amplitude in world.pairs:
        logit += amplitude * _sigmoid(2.0 * z @ gate) * np.tanh(u[:, i]) * u[:, j]
    for j, threshold, direction, amplitude in world.steps:
        logit += amplitude * (1.0 + 0.5 * np.tanh(z @ direction)) * (u[:, j] > threshold + 0.5 * z @ direction)
    return logit


def _bias_for_rate(logit: np.ndarray, rate: float) -> float:
    """The bias that makes the mean probability of these logits `rate` (bisection)."""
    low, high = -15.0, 15.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if _sigmoid(logit + mid).mean() < rate else (low, mid)
    return (low + high) / 2


def _split_queries(rng, n_queries: int, fractions: dict[str, float]) -> np.ndarray:
    """Each query's split, by shares of one scenario's queries (every split gets at least one query)."""
    names = list(fractions)
    counts = np.maximum(1, np.floor(np.array(list(fractions.values())) * n_queries)).astype(int)
    counts[names.index("train")] += n_queries - counts.sum()
    return rng.permutation(np.repeat(np.array(names), counts))


def _queries(rng, n_rows: int) -> np.ndarray:
    """Query index of each of n_rows rows (1-5 rows per query, most of one or two)."""
    sizes = 1 + rng.geometric(0.55, n_rows)
    sizes = np.minimum(sizes, 5)[: np.searchsorted(np.cumsum(np.minimum(sizes, 5)), n_rows) + 1]
    return np.repeat(np.arange(len(sizes)), sizes)[:n_rows]


def generate_world(config: WorldsConfig, index: int) -> tuple[pd.DataFrame, Manifest, dict]:
    """One world's rows, manifest and record; deterministic in (seed, index)."""
    rng = np.random.default_rng([config.seed, index, 104_729])
    world = draw_mechanisms(rng, world_name(index))
    spec = world.spec
    n_seen = spec["seen"]
    sizes, scenario, split, query = _layout(rng, spec, config.rows)
    observed, p, label, teacher = _draw_rows(rng, world, scenario, query)
    names = np.array([f"S{s + 1:02d}" for s in range(n_seen)] + [f"U{u + 1}" for u in range(len(spec["unseen"]))])
    features = [f"{kind}_{j + 1:02d}" for j, kind in enumerate(world.transforms)]
    frame = _world_frame(observed, features, names[scenario], query, split, p, label, teacher)
    stats = RunningStats(len(features))
    stats.update(frame, features)
    mean, std = stats.result()
    manifest = Manifest(features=features, scenarios=list(names[:n_seen]), unseen=list(names[n_seen:]), mean=mean,
                        std=std, source={**config.source(), "world": index})
    training = frame[frame[SPLIT].isin(TRAINING_SPLITS)]
    spec["rows"] = {"total": len(frame), "seen_sizes": [int(v) for v in sizes[:n_seen]],
                    "smallest_training_rows": int(training[SCENARIO].value_counts().min())}
    return frame, manifest, spec


def _layout(rng: np.random.Generator, spec: dict, rows: int) -> tuple[np.ndarray, ...]:
    """(scenario sizes, and per row: scenario index, split, query index). Seen scenarios split by query shares; an
    unseen one is its onboarding sample first, then disjoint test queries."""
    n_seen, n_unseen = spec["seen"], len(spec["unseen"])
    seen_rows = rows - n_unseen * (ONBOARD_ROWS + UNSEEN_TEST_ROWS)
    sizes = np.append(scenario_sizes(rng, n_seen, seen_rows, spec["size_tail"]),
                      [ONBOARD_ROWS + UNSEEN_TEST_ROWS] * n_unseen)
    fractions = SPLITS_WITH_POOL if spec["labels"]["pretrain_pool"] else SPLITS_WITHOUT_POOL
    scenario, split, query = [], [], []
    query_offset = 0
    for s, size in enumerate(sizes):
        rows_query = _queries(rng, int(size))
        n_queries = int(rows_query.max()) + 1
        if s < n_seen:
            query_split = _split_queries(rng, n_queries, fractions)
        else:
            query_split = np.where(np.arange(n_queries) <= rows_query[ONBOARD_ROWS - 1], ONBOARD, "test")
        scenario.append(np.full(int(size), s))
        split.append(query_split[rows_query])
        query.append(rows_query + query_offset)
        query_offset += n_queries
    return sizes, np.concatenate(scenario), np.concatenate(split), np.concatenate(query)


def _draw_rows(rng: np.random.Generator, world: Mechanisms, scenario: np.ndarray, query: np.ndarray
               ) -> tuple[np.ndarray, ...]:
    """(observed features, p(label 1), label, teacher probability) of every row."""
    spec, n = world.spec, len(scenario)
    n_seen = spec["seen"]
    match = rng.normal(0.0, 1.0, int(query.max()) + 1)[query] + rng.normal(0.0, 0.7, n)
    block_factor = rng.normal(0.0, 1.0, (n, len(world.block_rho)))
    rho = world.block_rho[world.blocks]
    x = (world.loadings * match[:, None] + np.sqrt(rho) * block_factor[:, world.blocks]
         + np.sqrt(1 - rho) * rng.normal(0.0, 1.0, (n, spec["d"])) + world.latent[scenario] @ world.shift)
    observed = observe(x, world.transforms, rng)
    observed[world.missing[scenario]] = 0.0  # a feature missing (constant) in some scenarios
    u = signal_inputs(observed, world.transforms)
    seen_rows_mask = scenario < n_seen
    u = (u - u[seen_rows_mask].mean(0)) / np.maximum(u[seen_rows_mask].std(0), 1e-6)
    raw = base_logit(u, scenario, world)
    raw *= spec["labels"]["logit_scale"] / max(raw[seen_rows_mask].std(), 1e-6)
    rates = spec["labels"]["positive_rate"]
    bias = np.array([_bias_for_rate(raw[scenario == s], rates[s]) for s in range(n_seen + len(spec["unseen"]))])
    logit = raw + bias[scenario]
    noise = spec["labels"]["label_noise"]
    p = noise + (1 - 2 * noise) * _sigmoid(logit)
    label = rng.binomial(1, p).astype(float)
    teacher = _sigmoid(0.85 * logit + rng.normal(0.0, spec["labels"]["teacher_noise"] or 1.0, n))
    return observed, p, label, teacher


def _world_frame(observed, features, scenario_names, query, split, p, label, teacher) -> pd.DataFrame:
    """The contract's columns: labels only outside the pool and onboarding, soft labels in the pool, the oracle's
    probability on test rows."""
    n = len(observed)
    pool = split == "pretrain"
    unlabelled = pool | (split == ONBOARD)
    frame = pd.DataFrame(observed.astype(FEATURE_DTYPE), columns=features)
    frame.insert(0, ROW_ID, np.arange(n, dtype=np.int64))
    frame.insert(1, SCENARIO, scenario_names)
    frame.insert(2, QUERY_ID, query.astype(np.int64))
    frame[LABEL] = pd.array(np.where(unlabelled, np.nan, label), dtype="Float64").astype("Int64")
    frame[SOFT_LABEL] = np.where(pool, teacher, np.nan).astype(FEATURE_DTYPE)
    frame[SPLIT] = split
    frame[ORACLE_P] = np.where(split == "test", p, np.nan)
    return frame
