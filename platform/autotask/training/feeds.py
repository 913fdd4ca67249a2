"""In-memory splits: the training loop's data when a run trains in one process on small data.

Ray Data's pipeline (read tasks, a streaming executor, a local shuffle buffer) is the right feed for Train workers and
data that does not fit in memory; for a 1-worker run on a dataset that is materialised anyway it is only a fixed cost
(3.4 s of a 49 s quickstart run). Such a run reads its splits once with pyarrow, through the same `to_model_inputs`
as Ray Data's preprocessing, and shuffles each epoch with a full permutation seeded like Ray's local shuffle
(`shuffle_seed(seed, epoch)`): the same inputs and a better-mixed order, reproducible without Ray.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autotask.data.contract import ROW_ID, SPLIT
from autotask.data.io import column_names, dataset_files, read_frame
from autotask.data.manifest import Manifest
from autotask.training.batches import (
    FEATURES,
    TARGET,
    TASK_ID,
    TRAIN_STAGES,
    require_row_ids,
    to_model_inputs,
    training_columns,
)

MINIBATCH_KEYS = (FEATURES, TASK_ID, TARGET, ROW_ID)  # what each training minibatch carries, in this order
STAGE_SPLITS = {**TRAIN_STAGES, "valid": ("valid", False)}  # dataset name -> (split, soft labels)


@dataclass(frozen=True)
class MemorySplit:
    """One split's model inputs as numpy arrays (the columns of `to_model_inputs`), held by the training process."""

    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.arrays[TARGET])

    def minibatches(self, batch_size: int, seed: int, device) -> Iterator[tuple[torch.Tensor, ...]]:
        """(features, task_ids, targets, row_ids) minibatches of `batch_size` rows in the order of a permutation
        drawn from `seed` (only the last minibatch can be short); none from an empty split (a world without a
        soft-label pool has no pre-training rows), as from an empty Ray dataset."""
        if not len(self):
            return
        order = np.random.default_rng(seed).permutation(len(self))
        tensors = [torch.from_numpy(self.arrays[key][order]).to(device) for key in MINIBATCH_KEYS]
        yield from zip(*(tensor.split(batch_size) for tensor in tensors), strict=True)

    @staticmethod
    def concat(parts: list[MemorySplit]) -> MemorySplit:
        return MemorySplit({key: np.concatenate([p.arrays[key] for p in parts]) for key in parts[0].arrays})


def read_memory_splits(data: str | Path, manifest: Manifest, language: bool = False,
                       pool_in_finetune: bool = False) -> dict[str, MemorySplit]:
    """The datasets of `runtime.ray_data.training_datasets` ("pretrain", "train", "valid"), read into memory once.
    `pool_in_finetune`: "train" also holds the soft-label pool's rows, after its own."""
    require_row_ids(data, column_names(dataset_files(data)[0]))
    frame = read_frame(data, training_columns(manifest, language), splits=[split for split, _ in STAGE_SPLITS.values()])
    by_split = dict(tuple(frame.groupby(SPLIT, sort=False)))
    empty = frame.iloc[:0]
    splits = {name: MemorySplit(to_model_inputs(by_split.get(split, empty), manifest, soft=soft, language=language))
              for name, (split, soft) in STAGE_SPLITS.items()}
    if pool_in_finetune and len(splits["pretrain"]):
        splits["train"] = MemorySplit.concat([splits["train"], splits["pretrain"]])
    return splits
