"""Group-aware split assignment: rows of one group (query) never cross splits."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

DEFAULT_FRACTIONS = {"pretrain": 0.0, "train": 0.6, "valid": 0.1, "calib": 0.1, "test": 0.2}


def _unit_hash(values: pd.Series, seed: int) -> np.ndarray:
    """A stable number in [0, 1) per value (independent of row order and Python's hash seed)."""
    keys = values.astype(str).to_numpy()
    unique, inverse = np.unique(keys, return_inverse=True)
    digests = [hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=8).digest() for k in unique]
    numbers = np.frombuffer(b"".join(digests), dtype=np.uint64) / float(2**64)
    return numbers[inverse]


def assign_splits(
    groups: pd.Series, unseen_mask: np.ndarray, fractions: dict[str, float] | None = None, seed: int = 0
) -> np.ndarray:
    """Split name per row by hashing its group; rows of unseen scenarios go to `test`.

    A group with any row of an unseen scenario goes to `test` whole, so a query never crosses splits.
    """
    fractions = fractions or DEFAULT_FRACTIONS
    names = np.array(list(fractions))
    edges = np.cumsum(list(fractions.values()))
    edges = edges / edges[-1]
    position = np.searchsorted(edges, _unit_hash(groups, seed), side="right")
    split = names[np.minimum(position, len(names) - 1)]
    unseen_mask = np.asarray(unseen_mask, dtype=bool)
    if unseen_mask.any():
        groups = pd.Series(np.asarray(groups))
        unseen_mask = groups.isin(set(groups[unseen_mask])).to_numpy()
    return np.where(unseen_mask, "test", split)
