"""The dataset manifest: features in order, scenario vocabulary, unseen scenarios, z-score statistics."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from autotask.data.contract import EMBEDDING_DTYPES, MANIFEST_NAME, RESERVED, UNSEEN_TASK_ID, ContractError
from autotask.location import Location
from autotask.storage import atomic_write_text


@dataclass
class Manifest:
    """What a dataset promises. Seen scenarios get task ids 1..N in `scenarios` order; id 0 = unseen.

    Optional language inputs: `texts` names kept text columns (query_text, offer_text); `embeddings` describes
    sentence-embedding columns ({"model", "dtype", "width", "columns"}: one fixed-size list column per text, each
    `width` floats), which models read only when their config says `language="embeddings"`.
    """

    features: list[str]
    scenarios: list[str]
    unseen: list[str]
    mean: list[float]
    std: list[float]
    source: dict = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    embeddings: dict = field(default_factory=dict)
    format_version: int = 1

    @property
    def d(self) -> int:
        return len(self.features)

    @property
    def n_tasks(self) -> int:
        return len(self.scenarios)

    @property
    def embedding_columns(self) -> list[str]:
        return list(self.embeddings.get("columns", []))

    @property
    def embedding_width(self) -> int:
        """Floats per embedding column (0 without embeddings)."""
        return int(self.embeddings.get("width", 0)) if self.embeddings else 0

    @property
    def language_width(self) -> int:
        """Width of the language inputs a model may read: every embedding column side by side."""
        return self.embedding_width * len(self.embedding_columns)

    @property
    def all_scenarios(self) -> list[str]:
        return [*self.scenarios, *self.unseen]

    def task_id(self, scenario: str) -> int:
        """Task id of a scenario: 1..N when seen in training, 0 otherwise."""
        try:
            return self.scenarios.index(scenario) + 1
        except ValueError:
            return UNSEEN_TASK_ID

    def task_ids(self, scenarios) -> np.ndarray:
        lookup = {name: i + 1 for i, name in enumerate(self.scenarios)}
        return np.fromiter((lookup.get(s, UNSEEN_TASK_ID) for s in scenarios), dtype=np.int64)

    def standardize(self, features: np.ndarray) -> np.ndarray:
        """Z-score with the training splits' statistics."""
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return ((features - mean) / std).astype(np.float32)

    def to_dict(self) -> dict:
        return {**asdict(self), "d": self.d}

    def write(self, directory: str | Path) -> Path:
        path = Path(directory) / MANIFEST_NAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "manifest") -> Manifest:
        missing = [k for k in ("features", "scenarios", "unseen", "mean", "std") if k not in raw]
        if missing:
            raise ContractError(f"{origin}: missing key(s) {', '.join(missing)}")
        manifest = cls(
            features=list(raw["features"]),
            scenarios=list(raw["scenarios"]),
            unseen=list(raw["unseen"]),
            mean=[float(v) for v in raw["mean"]],
            std=[float(v) for v in raw["std"]],
            source=dict(raw.get("source", {})),
            texts=list(raw.get("texts", [])),
            embeddings=dict(raw.get("embeddings", {})),
            format_version=int(raw.get("format_version", 1)),
        )
        if "d" in raw and raw["d"] != manifest.d:
            raise ContractError(f"{origin}: 'd' is {raw['d']} but 'features' lists {manifest.d} features")
        manifest.check(origin)
        return manifest

    def check(self, origin: str = "manifest") -> None:
        """Internal consistency of the manifest itself."""
        problems = []
        if not self.features:
            problems.append(f"{origin}: 'features' is empty")
        if len(set(self.features)) != len(self.features):
            problems.append(f"{origin}: 'features' has duplicates")
        if len(self.mean) != self.d or len(self.std) != self.d:
            problems.append(
                f"{origin}: 'mean'/'std' have {len(self.mean)}/{len(self.std)} values for {self.d} features"
            )
        else:
            bad_mean = [f for f, m in zip(self.features, self.mean, strict=True) if not np.isfinite(m)]
            bad_std = [f for f, s in zip(self.features, self.std, strict=True) if not (np.isfinite(s) and s > 0)]
            if bad_mean:
                problems.append(f"{origin}: 'mean' must be finite; it is not for feature(s) {bad_mean}")
            if bad_std:
                problems.append(
                    f"{origin}: 'std' must be finite and > 0 (a z-score divides by it); it is not for feature(s) "
                    f"{bad_std}"
                )
        if not self.scenarios:
            problems.append(f"{origin}: 'scenarios' (seen scenarios) is empty")
        overlap = set(self.scenarios) & set(self.unseen)
        if overlap:
            problems.append(f"{origin}: scenario(s) both seen and unseen: {sorted(overlap)}")
        if len(set(self.all_scenarios)) != len(self.all_scenarios):
            problems.append(f"{origin}: duplicate scenario names")
        problems += self._language_problems(origin)
        if problems:
            raise ContractError(problems)

    def _language_problems(self, origin: str) -> list[str]:
        problems = []
        columns = [*self.texts, *self.embedding_columns]
        clashes = sorted(set(columns) & (set(self.features) | (RESERVED - {*columns})))
        if clashes or len(set(columns)) != len(columns):
            problems.append(f"{origin}: text/embedding column(s) {clashes or columns} clash with features, each "
                            "other or reserved columns")
        if self.embeddings:
            width, dtype = self.embeddings.get("width"), self.embeddings.get("dtype")
            if not (isinstance(width, int) and width > 0):
                problems.append(f"{origin}: 'embeddings.width' must be a positive integer, got {width!r}")
            if dtype not in EMBEDDING_DTYPES:
                problems.append(f"{origin}: 'embeddings.dtype' must be one of {EMBEDDING_DTYPES}, got {dtype!r}")
            if not self.embedding_columns:
                problems.append(f"{origin}: 'embeddings.columns' is empty")
        return problems


def load_manifest(dataset) -> Manifest:
    """Read DIR/manifest.json (or the manifest beside a single Parquet file); DIR may be a URI (see location.py)."""
    path = Location.of(dataset)
    manifest_path = (path.parent if path.is_file() else path) / MANIFEST_NAME
    if not manifest_path.exists():
        raise ContractError(f"{manifest_path}: no manifest.json (every dataset needs one)")
    try:
        raw = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ContractError(f"{manifest_path}: not valid JSON ({exc})") from exc
    return Manifest.from_dict(raw, origin=str(manifest_path))
