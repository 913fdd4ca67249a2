"""A LightGBM peer: the d features plus the task id as a categorical feature
(id 0 = unseen, never seen in training). With `language="embeddings"` it also reads the text embeddings, reduced
by `TextReducer` (trees split poorly on 384 raw dimensions) to principal components of the query, the offer and
their elementwise product.

Targets may be soft (teacher probabilities) or hard labels: the default objective is cross-entropy, which
accepts any label in [0, 1]. Early stopping watches the validation set.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import lightgbm as lgb
import numpy as np

from autotask.models.registry import ModelKind, register
from autotask.storage import atomic_write


def _design(features, task_ids) -> np.ndarray:
    """[features | task id] as one float matrix; the last column is declared categorical."""
    return np.column_stack([np.asarray(features, dtype=np.float64), np.asarray(task_ids, dtype=np.float64)])


LANGUAGE_FIELDS = ("language", "language_components")  # model config fields of the reduction, not of LightGBM
# Components per part (query, offer, product): 8 gave Home Depot's best validation AUC of 8 and 32 (74.45 vs 73.86;
# features only 74.18; the raw product 73.56, raw vectors 73.18).
LANGUAGE_COMPONENTS = 8


class TextReducer:
    """PCA (fitted on the training rows) of the query vectors, the offer vectors and their elementwise product:
    [rows, 2 * width] embeddings -> [rows, 3 * components]."""

    def __init__(self, components: int = LANGUAGE_COMPONENTS):
        if not (isinstance(components, int) and components > 0):
            raise ValueError(f"language_components must be a positive integer, got {components!r}")
        self.components = components
        self.means: list[np.ndarray] = []
        self.axes: list[np.ndarray] = []

    @staticmethod
    def _parts(vectors: np.ndarray) -> list[np.ndarray]:
        half = vectors.shape[1] // 2
        query, offer = vectors[:, :half], vectors[:, half:]
        return [query, offer, query * offer]

    def fit(self, vectors: np.ndarray) -> TextReducer:
        for part in self._parts(np.asarray(vectors, dtype=np.float32)):
            mean = part.mean(axis=0)
            _, _, axes = np.linalg.svd(part - mean, full_matrices=False)
            self.means.append(mean)
            self.axes.append(axes[: self.components])
        return self

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        parts = self._parts(np.asarray(vectors, dtype=np.float32))
        return np.hstack([(p - m) @ a.T for p, m, a in zip(parts, self.means, self.axes, strict=True)])

    def save(self, path: str | Path) -> None:
        arrays = {f"{kind}{i}": values for kind, items in (("mean", self.means), ("axes", self.axes))
                  for i, values in enumerate(items)}
        atomic_write(path, lambda tmp: _save_arrays(tmp, arrays))


def _save_arrays(path: str, arrays: dict) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@dataclass(frozen=True)
class LightGBMParams:
    """The peer's settings, each under LightGBM's own name (a LightGBM run's model config holds these): the boosting
    rounds and the early-stopping patience are the peer's (lgb.train's), the rest go to LightGBM; `extra`: any other
    LightGBM parameters, passed through as given (not settable from a run's config)."""

    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    num_threads: int = 0
    objective: str = "cross_entropy"
    extra: dict = field(default_factory=dict)

    def booster_params(self, seed: int) -> dict:
        """What lgb.train receives: bagging every iteration, deterministic, quiet."""
        return {
            "objective": self.objective, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction, "bagging_freq": 1, "lambda_l2": self.lambda_l2,
            "num_threads": self.num_threads, "seed": seed, "deterministic": True, "verbosity": -1, **self.extra,
        }


CONFIG_PARAMS = frozenset(f.name for f in fields(LightGBMParams)) - {"extra"}  # what a run's model config may set


class LightGBMPeer:
    """fit / predict_proba / save / load around a LightGBM booster (model text file, no pickle)."""

    def __init__(self, seed: int = 0, settings: LightGBMParams | None = None):
        settings = settings or LightGBMParams()
        self.seed = seed
        self.num_boost_round = settings.num_boost_round
        self.early_stopping_rounds = settings.early_stopping_rounds
        self.params = settings.booster_params(seed)
        self.booster: lgb.Booster | None = None

    def fit(self, features, task_ids, labels, valid: tuple | None = None) -> LightGBMPeer:
        """Train; `valid=(features, task_ids, labels)` enables early stopping on that set."""
        categorical = [np.asarray(features).shape[1]]
        train = lgb.Dataset(_design(features, task_ids), np.asarray(labels, dtype=np.float64),
                            categorical_feature=categorical, free_raw_data=True)
        valid_sets, callbacks = [], []
        if valid is not None:
            v_features, v_ids, v_labels = valid
            valid_sets = [lgb.Dataset(_design(v_features, v_ids), np.asarray(v_labels, dtype=np.float64),
                                      categorical_feature=categorical, reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster = lgb.train(self.params, train, num_boost_round=self.num_boost_round,
                                 valid_sets=valid_sets, callbacks=callbacks)
        return self

    def predict_proba(self, features, task_ids) -> np.ndarray:
        """Probability of the positive class per row (best iteration when early stopping ran)."""
        if self.booster is None:
            raise RuntimeError("LightGBMPeer.predict_proba called before fit or load")
        iteration = self.booster.best_iteration or None
        return self.booster.predict(_design(features, task_ids), num_iteration=iteration)

    def save(self, path: str | Path) -> None:
        """Write LightGBM's model text file (atomically), truncated to the best iteration."""
        if self.booster is None:
            raise RuntimeError("LightGBMPeer.save called before fit")
        iteration = self.booster.best_iteration or None
        atomic_write(path, lambda tmp: self.booster.save_model(tmp, num_iteration=iteration))

    @classmethod
    def load(cls, path: str | Path) -> LightGBMPeer:
        peer = cls()
        peer.booster = lgb.Booster(model_file=str(path))
        return peer


def check_search_params(params: dict, derived: dict, d: int) -> list[str]:
    """A LightGBM config (a run's or a sampled one) names only LightGBMPeer's parameters and the language fields,
    with a positive number of language components."""
    known = CONFIG_PARAMS | set(LANGUAGE_FIELDS)
    unknown = sorted(set(params) - known)
    problems = [f"names unknown LightGBM parameter(s) {unknown} (known: {sorted(known)})"] if unknown else []
    components = params.get("language_components", LANGUAGE_COMPONENTS)
    if not (isinstance(components, int) and components > 0):
        problems.append(f"language_components must be a positive integer, got {components!r}")
    return problems


register(ModelKind(name="lightgbm", summary="LightGBM on the features and the task id, trained as one Ray task",
                   selection_score="score", search_space="search_spaces/lightgbm.py",
                   shown_params=("learning_rate", "num_leaves", "min_data_in_leaf"),
                   check_params=check_search_params))
