"""Per-scenario probability calibration (Platt or isotonic) fitted on the calib split; JSON in and out.

A scenario is fitted only when its calib rows hold both classes; any other scenario (unseen at fit time, or
single-class) passes through unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from autotask.storage import atomic_write_text

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def fit_platt(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Logistic regression on the score's logit: p = sigmoid(a * logit(s) + b)."""
    lr = LogisticRegression(C=1e6).fit(_logit(scores).reshape(-1, 1), labels)
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def apply_platt(params: dict, scores: np.ndarray) -> np.ndarray:
    """sigmoid(a * logit(s) + b), without overflow where a steep fit sends the logit far out (0 or 1 there)."""
    return expit(params["a"] * _logit(scores) + params["b"])


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Monotone fit stored as its thresholds; applied by linear interpolation, clipped at the ends."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def apply_isotonic(params: dict, scores: np.ndarray) -> np.ndarray:
    return np.interp(np.asarray(scores, dtype=np.float64), params["x"], params["y"])


METHODS = {"platt": (fit_platt, apply_platt), "isotonic": (fit_isotonic, apply_isotonic)}


class ScenarioCalibrator:
    """One calibration map per scenario name: `fit(scores, labels, scenarios)`, then `transform`."""

    def __init__(self, method: str = "platt", params: dict[str, dict] | None = None):
        if method not in METHODS:
            raise ValueError(f"calibration method must be one of {tuple(METHODS)}, got {method!r}")
        self.method = method
        self.params = dict(params or {})

    def fit(self, scores, labels, scenarios) -> ScenarioCalibrator:
        scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
        scenarios = np.asarray(scenarios).astype(str)
        fit, _ = METHODS[self.method]
        self.params = {}
        for name in np.unique(scenarios):
            rows = scenarios == name
            if np.unique(labels[rows]).size == 2:
                self.params[str(name)] = fit(scores[rows], labels[rows])
        return self

    def transform(self, scores, scenarios) -> np.ndarray:
        """Calibrated probabilities; rows of scenarios without a fitted map keep their score."""
        scores, scenarios = np.asarray(scores, dtype=np.float64), np.asarray(scenarios).astype(str)
        _, apply = METHODS[self.method]
        out = scores.copy()
        for name, params in self.params.items():
            rows = scenarios == name
            out[rows] = apply(params, scores[rows])
        return out

    def to_dict(self) -> dict:
        return {"method": self.method, "scenarios": self.params}

    @classmethod
    def from_dict(cls, raw: dict) -> ScenarioCalibrator:
        return cls(raw["method"], raw["scenarios"])

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> ScenarioCalibrator:
        return cls.from_dict(json.loads(Path(path).read_text()))
