"""AutoTask's parts (paper section 3): the task-id inputs, facet 1 (attention along the feature axis), facet 2
(attention along a block of rows) and their fusion into one logit. models/autotask.py assembles them into the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.blocks import Transformer
from autotask.models.language import input_width
from autotask.models.tokenizers import value_tokenizer

if TYPE_CHECKING:
    from autotask.models.autotask import AutoTaskConfig

LANGUAGE_TEXTS = 2  # the language inputs are the query's embedding, then the offer's


def task_number(task_ids: Tensor) -> Tensor:
    """The task id as one float column [b, 1] (the 'Task ID Number' element)."""
    return task_ids.to(torch.float32).unsqueeze(-1)


def task_one_hot(task_ids: Tensor, config: AutoTaskConfig) -> Tensor:
    """One-hot of the task id [b, one_hot_width]: column 0 is id 0 under unseen='slot'; otherwise id 0 is all zero."""
    one_hot = F.one_hot(task_ids.long(), config.n_tasks + 1).to(torch.float32)
    return one_hot if config.unseen == "slot" else one_hot[:, 1:]


class LanguageTokens(nn.Module):
    """Query and offer embeddings -> facet-1 tokens: `language_tokens` per text (a Linear to k * e1 each) and one
    token of their elementwise product (what a cosine sums). Returns [b, 2k + 1, e1]."""

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.width = config.language_width // LANGUAGE_TEXTS
        self.shape = (config.language_tokens, config.e1)
        self.query = nn.Linear(self.width, config.language_tokens * config.e1)
        self.offer = nn.Linear(self.width, config.language_tokens * config.e1)
        self.interaction = nn.Linear(self.width, config.e1)

    def forward(self, vectors: Tensor) -> Tensor:
        query, offer = vectors[:, : self.width], vectors[:, self.width:]
        return torch.cat([self.query(query).unflatten(1, self.shape), self.offer(offer).unflatten(1, self.shape),
                          self.interaction(query * offer).unsqueeze(1)], dim=1)


class FeatureFacet(nn.Module):
    """Facet 1, task-aware feature modelling: each feature element (then the task id) is a token.

    Token = value embedding (the tokenizer: [b, d] -> [b, d, e1]; the task-id number is one more value token;
    then the language tokens) + Linear(one-hot of the task id) when encoding -> position embedding -> GPT-2 blocks
    along the feature axis. With the `shared` tokenizer this is the paper's Linear([value, one-hot]) per token.
    Returns [b, positions1, e1].
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.config = config
        self.values = value_tokenizer(config.tokenizer, config.d, config.e1)
        shares = config.tokenizer == "shared"
        self.task_number = None if config.task_id_mode == "none" or shares else nn.Linear(1, config.e1)
        encoding = config.task_id_mode == "encoding"
        self.task_code = nn.Linear(config.one_hot_width, config.e1, bias=False) if encoding else None
        self.language = LanguageTokens(config) if config.language_positions else None
        self.transformer = Transformer(config.positions1, config.e1, config.n_layer1, config.n_head1,
                                       config.dropout1, config.causal)

    def forward(self, features: Tensor, task_ids: Tensor) -> Tensor:
        d = self.config.d
        tokens = self.values(features[:, :d])
        if self.config.task_id_mode != "none":
            number = task_number(task_ids)
            id_token = self.values.embed_one(number) if self.task_number is None else self.task_number(number)
            tokens = torch.cat([tokens, id_token.unsqueeze(1)], dim=1)
        if self.language is not None:
            tokens = torch.cat([tokens, self.language(features[:, d:])], dim=1)
        if self.task_code is not None:
            tokens = tokens + self.task_code(task_one_hot(task_ids, self.config)).unsqueeze(1)
        return self.transformer(tokens)


class BlockFacet(nn.Module):
    """Facet 2, cross-task interaction: consecutive rows form blocks of t; each row is one token.

    Row token = [d features (and the language inputs), task-id number unless none, one-hot when encoding and
    facet2_task_encoding]
    -> Linear to e2 + position embedding over t -> GPT-2 blocks along the block axis. Returns [b, e2].
    A trailing block shorter than t (b not a multiple of t) is run on its own, so its rows never see padding.
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.config, self.mode = config, config.task_id_mode
        self.with_one_hot = self.mode == "encoding" and config.facet2_task_encoding
        width = row_inputs_width(config) + (self.mode != "none") + (config.one_hot_width if self.with_one_hot else 0)
        self.max_block_size = config.block_size
        self.wte = nn.Linear(width, config.e2)
        self.transformer = Transformer(config.block_size, config.e2, config.n_layer2, config.n_head2,
                                       config.dropout2, config.causal)

    def row_tokens(self, features: Tensor, task_ids: Tensor) -> Tensor:
        parts = [row_inputs(features, self.config)]
        if self.mode != "none":
            parts.append(task_number(task_ids))
        if self.with_one_hot:
            parts.append(task_one_hot(task_ids, self.config))
        return torch.cat(parts, dim=1)

    def forward(self, features: Tensor, task_ids: Tensor, block_size: int) -> Tensor:
        if not 1 <= block_size <= self.max_block_size:
            raise ValueError(f"block_size must be in [1, {self.max_block_size}], got {block_size}")
        tokens = self.wte(self.row_tokens(features, task_ids))
        if block_size == 1:  # every row its own block (serving): no size-dependent branch, so exports stay general
            return self.transformer(tokens.unsqueeze(1)).squeeze(1)
        return in_blocks(self.transformer, tokens, block_size)


def row_inputs(features: Tensor, config: AutoTaskConfig) -> Tensor:
    """What facet 2 reads of a row: the d features, plus (language_facet2) the query*offer product, both vectors or
    nothing of the language inputs."""
    if config.language == "none" or config.language_facet2 == "vectors":
        return features
    if config.language_facet2 == "none":
        return features[:, : config.d]
    half = config.language_width // LANGUAGE_TEXTS
    query, offer = features[:, config.d: config.d + half], features[:, config.d + half:]
    return torch.cat([features[:, : config.d], query * offer], dim=1)


def row_inputs_width(config: AutoTaskConfig) -> int:
    if config.language == "none" or config.language_facet2 == "vectors":
        return input_width(config)
    return config.d + (0 if config.language_facet2 == "none" else config.language_width // LANGUAGE_TEXTS)


def in_blocks(fn: Callable[[Tensor], Tensor], rows: Tensor, t: int) -> Tensor:
    """Apply sequence model `fn` to consecutive blocks of t rows of [b, C]; a remainder is its own block."""
    b, width = rows.shape
    full = b - b % t
    outputs = [fn(rows[:full].view(-1, t, width)).reshape(full, -1)] if full else []
    if full < b:
        outputs.append(fn(rows[full:].unsqueeze(0)).squeeze(0))
    return torch.cat(outputs) if len(outputs) > 1 else outputs[0]


class Fusion(nn.Module):
    """Merge T1 [b, positions1 * e1] and T2 [b, e2] into one logit per row.

    concat (paper default): head([T1, T2]). sum (ablation): head(Linear(T1) + T2), the projection bringing T1
    to width e2 (T1 is (d + 1) * e1 wide when the task id is a feature element). Head: Linear-GELU-Linear, plus
    the row's own `TaskTowers` on the head's hidden layer (`AutoTaskConfig.has_towers`).
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        t1_width = config.positions1 * config.e1
        self.project = nn.Linear(t1_width, config.e2) if config.fusion == "sum" else None
        width = config.e2 if self.project is not None else t1_width + config.e2
        hidden = config.head_hidden
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, 1))
        self.towers = TaskTowers(hidden, config.task_tower, config.n_tasks) if config.has_towers else None

    def forward(self, t1: Tensor, t2: Tensor, task_ids: Tensor) -> Tensor:
        fused = torch.cat([t1, t2], dim=1) if self.project is None else self.project(t1) + t2
        if self.towers is None:
            return self.head(fused).squeeze(-1)
        hidden = self.head[1](self.head[0](fused))
        return self.head[2](hidden).squeeze(-1) + self.towers(hidden, task_ids)


class TaskTowers(nn.Module):
    """One tower per seen scenario, Linear(width, hidden)-ReLU-Linear(hidden, 1) as the DNN's task branches, on the
    fusion head's hidden layer; its logit is added to the shared head's. Id 0 (unseen) gets none, so the mixing
    rules score an unseen row under each seen id's tower. The output layer starts at zero: training starts from the
    shared head alone."""

    def __init__(self, width: int, hidden: int, n_tasks: int):
        super().__init__()
        bound = width ** -0.5
        self.w1 = nn.Parameter(torch.empty(n_tasks, width, hidden).uniform_(-bound, bound))
        self.b1 = nn.Parameter(torch.zeros(n_tasks, hidden))
        self.w2 = nn.Parameter(torch.zeros(n_tasks, hidden))
        self.b2 = nn.Parameter(torch.zeros(n_tasks))

    def forward(self, h: Tensor, task_ids: Tensor) -> Tensor:
        """Every tower on every row (dense: one matmul, no per-row weight gathers), then each row's own."""
        n, width, hidden = self.w1.shape
        every = torch.relu(h @ self.w1.permute(1, 0, 2).reshape(width, n * hidden) + self.b1.reshape(-1))
        logits = (every.view(-1, n, hidden) * self.w2).sum(dim=-1) + self.b2  # [b, n]
        own = logits.gather(1, (task_ids.long() - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return own * (task_ids > 0).to(own.dtype)


class FacetMember(nn.Module):
    """One more ensemble member (`AutoTaskConfig.members` > 1): its own facet 1, facet 2 and fusion, initialised
    independently; member 0 is the model's own `facet1`, `facet2` and `fusion`, so one-member weights keep their
    keys."""

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.facet1 = FeatureFacet(config)
        self.facet2 = BlockFacet(config)
        self.fusion = Fusion(config)
