"""Turn contract rows into model inputs: z-scored features, task ids, targets, scenario groups (numpy only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autotask.data.contract import LABEL, QUERY_ID, ROW_ID, SCENARIO, SOFT_LABEL, SPLIT
from autotask.data.io import vector_matrix
from autotask.data.manifest import Manifest

FEATURES = "features"
TASK_ID = "task_id"
TARGET = "target"
GROUP = "group"
TRAIN_STAGES = {"pretrain": ("pretrain", True), "train": ("train", False)}  # dataset name -> (split, soft labels)


def target_for(frame: pd.DataFrame, soft: bool) -> np.ndarray:
    """Soft labels for pre-training (hard label where a row has no soft label), hard labels otherwise."""
    hard = pd.to_numeric(frame[LABEL], errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
    if soft and SOFT_LABEL in frame.columns:
        teacher = pd.to_numeric(frame[SOFT_LABEL], errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        return np.where(np.isnan(teacher), hard, teacher).astype(np.float32)
    return hard


def input_columns(manifest: Manifest, language: bool = False) -> list[str]:
    """The dataset columns a model's input matrix is made of: the features, then the embeddings when it reads them."""
    return [*manifest.features, *(manifest.embedding_columns if language else [])]


def training_columns(manifest: Manifest, language: bool = False) -> list[str]:
    """The dataset columns a training run reads (row ids first; soft labels and query ids where the files have them)."""
    return [ROW_ID, SCENARIO, SPLIT, LABEL, *input_columns(manifest, language), SOFT_LABEL, QUERY_ID]


def require_row_ids(data, columns) -> None:
    """Training keys each epoch's lineage and its scores on `row_id`: a dataset without it is refused (ValueError)."""
    if ROW_ID not in columns:
        raise ValueError(f"{data}: training needs a '{ROW_ID}' column (datasets built by this project have one)")


def model_features(frame: pd.DataFrame, manifest: Manifest, language: bool = False) -> np.ndarray:
    """[rows, d (+ language_width)] float32: the z-scored features, then each embedding column (as stored)."""
    features = manifest.standardize(frame[manifest.features].to_numpy(dtype=np.float32))
    if not language:
        return features
    vectors = [vector_matrix(frame[column], manifest.embedding_width) for column in manifest.embedding_columns]
    return np.concatenate([features, *vectors], axis=1)


def to_model_inputs(frame: pd.DataFrame, manifest: Manifest, soft: bool = False, language: bool = False
                    ) -> dict[str, np.ndarray]:
    """Columns the training loop consumes; rows without any target are dropped. `language`: the input matrix also
    holds the text embeddings (models with language="embeddings")."""
    target = target_for(frame, soft)
    keep = ~np.isnan(target)
    frame = frame[keep]
    groups = {name: i for i, name in enumerate(manifest.all_scenarios)}
    return {
        ROW_ID: frame[ROW_ID].to_numpy(dtype=np.int64),
        FEATURES: model_features(frame, manifest, language),
        TASK_ID: manifest.task_ids(frame[SCENARIO]),
        TARGET: target[keep],
        GROUP: frame[SCENARIO].map(groups).to_numpy(dtype=np.int64),
    }


class SplitPreprocessor:
    """Ray Data `map_batches` callable: keep one split's rows and convert them to model inputs."""

    def __init__(self, manifest: dict, split: str, soft: bool, language: bool = False):
        self.manifest = Manifest.from_dict(manifest)
        self.split = split
        self.soft = soft
        self.language = language

    def __call__(self, batch: pd.DataFrame) -> dict[str, np.ndarray]:
        return to_model_inputs(batch[batch[SPLIT] == self.split], self.manifest, soft=self.soft,
                               language=self.language)
