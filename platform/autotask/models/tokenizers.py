"""Facet 1's value tokenizers: numeric features [b, d] -> tokens [b, d, e1] (Gorishniy et al. 2022, "On Embeddings
for Numerical Features in Tabular Deep Learning"; the periodic and piecewise-linear forms from rtdl-num-embeddings).

- `shared`: one Linear(1, e1) for every feature (the paper's token embedding); the task-id number uses it too.
- `per-feature`: a Linear(1, e1) of its own per feature.
- `periodic`: per feature, sin/cos of learned frequencies, then a per-feature Linear and ReLU (PLR).
- `piecewise`: per feature, a piecewise-linear encoding over fixed bins, then a per-feature Linear ("version B":
  starts as a linear embedding). The bins are standard-normal quantiles, fixed by construction: the features
  arrive z-scored with the training splits' statistics, so no data pass is needed to build the model.
"""

from __future__ import annotations

import torch
from rtdl_num_embeddings import LinearEmbeddings, PeriodicEmbeddings, PiecewiseLinearEmbeddings
from torch import Tensor, nn

TOKENIZERS = ("shared", "per-feature", "periodic", "piecewise")
PERIODIC_FREQUENCIES = 16
PERIODIC_SIGMA = 0.1  # initial frequency scale; the rtdl README calls it the key hyper-parameter of PLR
PIECEWISE_BINS = 16


class SharedValueEmbedding(nn.Module):
    """One Linear(1, e1) applied to every value: [b, k] -> [b, k, e1]."""

    def __init__(self, e1: int):
        super().__init__()
        self.linear = nn.Linear(1, e1)

    def forward(self, values: Tensor) -> Tensor:
        return self.linear(values.unsqueeze(-1))

    def embed_one(self, value: Tensor) -> Tensor:
        """[b, 1] -> [b, e1]: a value outside the feature axis (the task-id number) with the same weights."""
        return self.linear(value)


def normal_quantile_bins(d: int, n_bins: int = PIECEWISE_BINS) -> list[Tensor]:
    """n_bins + 1 edges per feature at standard-normal quantiles (0.5 % .. 99.5 %)."""
    edges = torch.special.ndtri(torch.linspace(0.005, 0.995, n_bins + 1, dtype=torch.float64)).float()
    return [edges.clone() for _ in range(d)]


def value_tokenizer(name: str, d: int, e1: int) -> nn.Module:
    """The module embedding d feature values into d tokens of width e1."""
    if name == "shared":
        return SharedValueEmbedding(e1)
    if name == "per-feature":
        return LinearEmbeddings(d, e1)
    if name == "periodic":
        return PeriodicEmbeddings(d, e1, n_frequencies=PERIODIC_FREQUENCIES, frequency_init_scale=PERIODIC_SIGMA,
                                  lite=False)
    if name == "piecewise":
        return PiecewiseLinearEmbeddings(normal_quantile_bins(d), e1, activation=False, version="B")
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {name!r}")
