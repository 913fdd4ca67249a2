"""A simulated multi-scenario ads-relevance dataset whose true relevance probability is known.

Every row is a query-offer pair of one scenario (ad type). Twelve features look like extracted relevance
features (lexical and semantic similarities, coverage, binary matches, counts, quality scores): correlated
through a latent match strength, skewed, some binary, and shifted by scenario. The true logit is a function of
the observed features and the scenario: a part shared by every scenario plus weights that vary smoothly with a
latent scenario vector, and a few nonlinear interactions. Unseen scenarios draw their vector from the same
span, so they are learnable from seen ones. `oracle_p` (test split) is that true probability.

Rows are generated in fixed-size chunks, each from its own seeded generator, so any size is deterministic by
seed and the 10-million-row build writes partitioned Parquet in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autotask.data.contract import (
    FEATURE_DTYPE,
    LABEL,
    ORACLE_P,
    QUERY_ID,
    ROW_ID,
    SCENARIO,
    SOFT_LABEL,
    SPLIT,
)
from autotask.data.io import RunningStats
from autotask.data.manifest import Manifest

SEEN = ("Hotel", "Store", "Tours", "Auto", "Card", "Health", "Insurance", "Cruise", "RealEstate")
UNSEEN = ("Clinic", "Home")
# Share of the seen rows per scenario: imbalanced on purpose.
SEEN_SHARE = np.array([0.15, 0.24, 0.09, 0.11, 0.06, 0.12, 0.10, 0.05, 0.08])
UNSEEN_SHARE = 0.025  # each unseen scenario, as a share of all rows; test split only
SPLIT_SHARE = {"pretrain": 0.55, "train": 0.20, "valid": 0.08, "calib": 0.07, "test": 0.10}
FEATURES = (
    "bm25",
    "tfidf_cosine",
    "char_ngram_cosine",
    "embedding_cosine",
    "query_coverage",
    "title_overlap",
    "brand_match",
    "exact_match",
    "offer_quality",
    "landing_page_score",
    "query_length",
    "historical_ctr",
)
CHUNK_ROWS = 500_000
LATENT_DIM = 3
SIGNAL = 0.5  # scales the logit so oracle ROC AUCs land near real ads-relevance levels
DEFAULT_ROWS = 60_000


@dataclass(frozen=True)
class SimulatorConfig:
    rows: int = DEFAULT_ROWS
    seed: int = 0
    chunk_rows: int = CHUNK_ROWS

    def __post_init__(self):
        if self.rows < 2_000:
            raise ValueError(f"rows must be at least 2000 (every scenario needs rows in every split), got {self.rows}")


@dataclass(frozen=True)
class World:
    """Scenario-level parameters, fixed by the seed."""

    latent: np.ndarray  # [scenarios, LATENT_DIM]
    bias: np.ndarray  # [scenarios]
    weights: np.ndarray  # [scenarios, n_basis]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_world(seed: int) -> World:
    rng = np.random.default_rng([seed, 7_919])
    seen_latent = rng.normal(0.0, 1.0, size=(len(SEEN), LATENT_DIM))
    # Unseen scenarios: mixtures of seen ones plus a little of their own.
    mix = rng.dirichlet(np.ones(len(SEEN)), size=len(UNSEEN))
    unseen_latent = mix @ seen_latent * 1.6 + rng.normal(0.0, 0.3, size=(len(UNSEEN), LATENT_DIM))
    latent = np.vstack([seen_latent, unseen_latent])
    shared = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.35, 0.4, 0.8, 0.25, 1.6, 1.0])
    mixing = rng.normal(0.0, 0.9, size=(LATENT_DIM, len(shared)))
    weights = shared + latent @ mixing
    bias = rng.normal(-0.2, 0.9, size=len(latent))
    return World(latent=latent, bias=bias, weights=weights)


def basis(features: np.ndarray) -> np.ndarray:
    """Nonlinear transforms of the observed features that the true logit is linear in."""
    f = {name: features[:, i] for i, name in enumerate(FEATURES)}
    return np.column_stack(
        [
            np.log1p(f["bm25"]) - 1.2,
            3.0 * (f["tfidf_cosine"] - 0.5),
            2.0 * f["embedding_cosine"],
            3.0 * (f["query_coverage"] - 0.5),
            f["brand_match"] + f["exact_match"] - 0.5,
            np.tanh(f["offer_quality"]),
            f["landing_page_score"],
            -np.abs(np.log(f["query_length"] / 3.0)),
            np.log(f["historical_ctr"] / 0.1),
            4.0 * f["query_coverage"] * f["embedding_cosine"] * (f["tfidf_cosine"] > 0.4),
            np.tanh(2.0 * (f["char_ngram_cosine"] - 0.5)) * (1 + f["brand_match"]),
        ]
    )


def true_logit(features: np.ndarray, scenario_index: np.ndarray, world: World) -> np.ndarray:
    """The true relevance logit: shared part plus weights that vary with the scenario's latent vector."""
    return world.bias[scenario_index] + SIGNAL * np.einsum("ij,ij->i", basis(features), world.weights[scenario_index])


def _features(rng, n, match, quality, latent_rows) -> np.ndarray:
    """Twelve extracted-looking features: correlated via `match`, skewed, binary, scenario-shifted."""
    noise = lambda scale=1.0: rng.normal(0.0, scale, n)  # noqa: E731
    shift = latent_rows
    columns = [
        np.exp(0.55 * match + 0.35 * noise() + 0.25 * shift[:, 0]) * 2.5,  # bm25
        _sigmoid(1.1 * match + 0.7 * noise() + 0.3 * shift[:, 1]),  # tfidf_cosine
        _sigmoid(0.8 * match + 0.9 * noise() - 0.2 * shift[:, 0]),  # char_ngram_cosine
        np.tanh(0.7 * match + 0.6 * noise() + 0.2 * shift[:, 2]),  # embedding_cosine
        _sigmoid(1.3 * match + 0.8 * noise()),  # query_coverage
        rng.poisson(np.exp(0.35 * match + 0.6 + 0.1 * shift[:, 1])).astype(float),  # title_overlap
        rng.binomial(1, _sigmoid(0.9 * match - 0.4 + 0.5 * shift[:, 2])).astype(float),  # brand_match
        rng.binomial(1, _sigmoid(1.4 * match - 2.0)).astype(float),  # exact_match
        quality,  # offer_quality
        0.7 * quality + 0.5 * noise() + 0.2 * shift[:, 0],  # landing_page_score
        1.0 + rng.poisson(np.exp(1.0 + 0.15 * shift[:, 1])).astype(float),  # query_length
        _sigmoid(0.45 * match + 0.4 * quality - 2.3 + 0.4 * noise()),  # historical_ctr
    ]
    return np.column_stack(columns)


def _chunk_sizes(config: SimulatorConfig) -> list[int]:
    full, rest = divmod(config.rows, config.chunk_rows)
    return [config.chunk_rows] * full + ([rest] if rest else [])


def simulate_chunk(config: SimulatorConfig, chunk: int, n_rows: int, world: World) -> pd.DataFrame:
    """Rows of one chunk, grouped by query; deterministic in (seed, chunk)."""
    rng = np.random.default_rng([config.seed, chunk])
    names = np.array([*SEEN, *UNSEEN])
    share = np.concatenate([SEEN_SHARE * (1 - UNSEEN_SHARE * len(UNSEEN)), [UNSEEN_SHARE] * len(UNSEEN)])
    query_sizes = 1 + rng.geometric(0.35, size=n_rows)  # more than enough queries; trimmed below
    query_sizes = query_sizes[: np.searchsorted(np.cumsum(query_sizes), n_rows) + 1]
    n_queries = len(query_sizes)
    query_scenario = rng.choice(len(names), size=n_queries, p=share / share.sum())
    split_names = np.array(list(SPLIT_SHARE))
    query_split = rng.choice(len(split_names), size=n_queries, p=list(SPLIT_SHARE.values()))
    query_split = np.where(query_scenario >= len(SEEN), list(SPLIT_SHARE).index("test"), query_split)
    query_effect = rng.normal(0.0, 0.6, n_queries)

    row_query = np.repeat(np.arange(n_queries), query_sizes)[:n_rows]
    scenario_index = query_scenario[row_query]
    latent_rows = world.latent[scenario_index]
    match = 0.35 * latent_rows[:, 0] + query_effect[row_query] + rng.normal(0.0, 0.85, n_rows)
    quality = rng.normal(0.2 * latent_rows[:, 1], 1.0, n_rows)
    features = _features(rng, n_rows, match, quality, latent_rows)
    logit = true_logit(features, scenario_index, world)
    p = _sigmoid(logit)
    teacher = _sigmoid(0.85 * logit + 0.15 + rng.normal(0.0, 0.6, n_rows))
    label = rng.binomial(1, p).astype(float)

    split = split_names[query_split[row_query]]
    in_pool = split == "pretrain"
    frame = pd.DataFrame(features.astype(FEATURE_DTYPE), columns=list(FEATURES))
    frame.insert(0, ROW_ID, np.arange(chunk * config.chunk_rows, chunk * config.chunk_rows + n_rows, dtype=np.int64))
    frame.insert(1, SCENARIO, names[scenario_index])
    frame.insert(2, QUERY_ID, (chunk * 10**8 + row_query).astype(np.int64))
    frame[LABEL] = pd.array(np.where(in_pool, np.nan, label), dtype="Float64").astype("Int64")
    frame[SOFT_LABEL] = np.where(in_pool, teacher, np.nan).astype(FEATURE_DTYPE)
    frame[SPLIT] = split
    frame[ORACLE_P] = np.where(split == "test", p, np.nan)
    return frame


def write_simulated(config: SimulatorConfig, directory: str | Path, progress=None) -> Manifest:
    """Write part files and the manifest into `directory` (a staging folder); returns the manifest."""
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    world = make_world(config.seed)
    stats = RunningStats(len(FEATURES))
    for chunk, n_rows in enumerate(_chunk_sizes(config)):
        frame = simulate_chunk(config, chunk, n_rows, world)
        stats.update(frame, list(FEATURES))
        frame.to_parquet(directory / "data" / f"part-{chunk:05d}.parquet", index=False)
        if progress is not None:
            progress(n_rows)
    mean, std = stats.result()
    manifest = Manifest(
        features=list(FEATURES),
        scenarios=list(SEEN),
        unseen=list(UNSEEN),
        mean=mean,
        std=std,
        source={"kind": "simulator", "rows": config.rows, "seed": config.seed, "chunk_rows": config.chunk_rows},
    )
    manifest.write(directory)
    return manifest
