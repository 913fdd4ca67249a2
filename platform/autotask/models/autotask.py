"""AutoTask (paper section 3): a task-aware feature facet and a cross-task block facet, fused into one logit.

Read top to bottom: config, task-id inputs, facet 1 (attention along the feature axis), facet 2 (attention
along a block of rows), fusion, and the model with its uniform training/scoring interface.

Unseen scenarios (task id 0) never occur in training, so id 0 gets a defined meaning by construction (`unseen`):
`mixture` scores the row under every seen id and averages the probabilities, `gated` weights that average by a
task classifier trained on the features (p(seen task | x)), `zero` reads an all-zero one-hot, and `slot` keeps a
one-hot column of its own for id 0, which only `task_id_dropout > 0` trains.

Beside the per-row rules, an in-context mode scores an unseen scenario with one weighting for all its rows, its
*profile* (`scenario_profile`: estimated from its unlabelled rows); a scored group of rows then depends on its
neighbours, so it is reported as its own score column (`score_context`), never as the default score. The profile
(`profile`): `moments` matches the scenario's mean input with a convex mixture of the seen ids' mean inputs
(`seen_means`, the training rows' running means), `gate` averages the gate's p(task | x).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.blocks import Transformer
from autotask.models.interface import binary_loss, decay_groups, dropout_rates, one_of, positive, validate
from autotask.models.language import input_width, language_problems
from autotask.models.registry import ModelKind, register
from autotask.models.tokenizers import TOKENIZERS, value_tokenizer

TASK_ID_MODES = ("none", "number", "encoding")
FUSIONS = ("concat", "sum")
ATTENTIONS = ("causal", "full")
UNSEEN_RULES = ("mixture", "gated", "zero", "slot")
MIXING_RULES = ("mixture", "gated")  # rules that score an unseen row under every seen id
PROBABILITY_EPS = 1e-6
# Scenario profiles (in-context mode): the gate's mean p(task | x) over a scenario's rows, raised to this power and
# renormalised. Chosen on the validation proxy (seen scenarios scored without their own id) over three simulator
# seeds: power 1, 2, 4 and argmax gave 78.7, 79.9, 79.5 and 77.4 (docs/results/quality.md).
PROFILE_SHARPNESS = 2.0
LANGUAGE_TEXTS = 2  # the language inputs are the query's embedding, then the offer's
LANGUAGE_FACET2 = ("product", "vectors", "none")  # what facet 2's row token reads of the language inputs
# How an unseen scenario's profile is estimated from its unlabelled rows. `moments` chosen over `gate` on held-out
# selection worlds (seed 2), simulator seeds 0-2 and Home Depot with 200 onboarding rows (docs/worlds.md).
PROFILES = ("moments", "gate")
SIMPLEX_STEPS = 500  # projected-gradient steps of the moment matching (a convex problem of n_tasks weights)


@dataclass
class AutoTaskConfig:
    """AutoTask hyper-parameters. `d` and `n_tasks` come from the data; `e2 = d * e1` is derived, never set.

    task_id_mode: `none` (ids ignored), `number` (id appended as the last feature element), `encoding`
    (number plus a one-hot of the seen ids, see `unseen`, in every facet-1 token and, when
    `facet2_task_encoding`, in every facet-2 row token).
    fusion: `concat` (head on [T1, T2]) or `sum` (head on Linear(T1) + T2). attention: `causal` or `full`.
    task_id_dropout: training only, the rate at which a row's id is replaced by 0 (so id 0 learns a
    general representation for unseen scenarios); only with unseen `zero` or `slot`.
    unseen: what id 0 means (module docstring). tokenizer: how facet 1 embeds each feature value, `shared` (one
    Linear for every feature, the paper), `per-feature`, `periodic` or `piecewise` (Gorishniy et al. 2022).
    language: `none`, or `embeddings`: the dataset's query and offer embeddings (`language_width` floats after the
    d features, set from the data) become `language_tokens` facet-1 tokens per text plus one query*offer token
    after the feature and task-id tokens, and join facet 2's row tokens; d (and so e2 = d * e1) still counts the
    features only.
    """

    d: int
    n_tasks: int
    e1: int = 8
    block_size: int = 16
    task_id_mode: str = "encoding"
    fusion: str = "concat"
    attention: str = "causal"
    facet2_task_encoding: bool = True
    n_layer1: int = 1
    n_head1: int = 2
    dropout1: float = 0.0
    n_layer2: int = 1
    n_head2: int = 4
    dropout2: float = 0.0
    head_hidden: int = 64
    task_id_dropout: float = 0.0
    unseen: str = "gated"
    tokenizer: str = "shared"
    language: str = "none"
    language_width: int = 0
    language_tokens: int = 4
    language_facet2: str = "vectors"
    profile: str = "moments"

    def __post_init__(self):
        problems = positive(self, ("d", "n_tasks", "e1", "block_size", "n_layer1", "n_head1", "n_layer2",
                                   "n_head2", "head_hidden"))
        problems += dropout_rates(self, ("dropout1", "dropout2", "task_id_dropout"))
        problems += one_of(self, "task_id_mode", TASK_ID_MODES)
        problems += one_of(self, "fusion", FUSIONS)
        problems += one_of(self, "attention", ATTENTIONS)
        problems += one_of(self, "unseen", UNSEEN_RULES)
        problems += one_of(self, "tokenizer", TOKENIZERS)
        problems += language_problems(self, texts=LANGUAGE_TEXTS) + positive(self, ("language_tokens",))
        problems += one_of(self, "language_facet2", LANGUAGE_FACET2)
        problems += one_of(self, "profile", PROFILES)
        if self.unseen == "slot" and self.task_id_dropout == 0.0:
            problems.append("unseen='slot' needs task_id_dropout > 0 (no training row has id 0, so its one-hot "
                            "column would keep its random initial weights)")
        if self.task_id_dropout > 0.0 and self.unseen in MIXING_RULES:
            problems.append(f"task_id_dropout > 0 trains id 0, which unseen={self.unseen!r} never reads; "
                            "use unseen='zero' or 'slot'")
        if not problems:
            problems += _divides(self.n_head1, "n_head1", self.e1, "e1")
            problems += _divides(self.n_head2, "n_head2", self.e2, f"e2 = d * e1 = {self.e2}")
        validate(problems, "AutoTaskConfig")

    @property
    def e2(self) -> int:
        """Facet-2 width, d * e1 (equal to facet 1's flattened width over the d feature positions)."""
        return self.d * self.e1

    @property
    def positions1(self) -> int:
        """Facet-1 sequence length: d features, plus the task-id element unless task_id_mode is none, plus the
        language tokens."""
        return self.d + (self.task_id_mode != "none") + self.language_positions

    @property
    def language_positions(self) -> int:
        """`language_tokens` per text and one interaction token when the model reads language, else 0."""
        return LANGUAGE_TEXTS * self.language_tokens + 1 if self.language == "embeddings" else 0

    @property
    def causal(self) -> bool:
        return self.attention == "causal"

    @property
    def one_hot_width(self) -> int:
        """Seen ids 1..n_tasks get a column each; id 0 gets its own column only under unseen='slot'."""
        return self.n_tasks + (self.unseen == "slot")

    @property
    def has_gate(self) -> bool:
        """The task classifier p(seen task | x) is trained whenever id 0 is not a slot of its own, so the `zero`,
        `mixture` and `gated` rules are scoring-time choices over the same trained weights."""
        return self.unseen != "slot" and self.task_id_mode != "none"

    @property
    def mixes_unseen(self) -> bool:
        """Whether an unseen row is scored as a mixture over the seen ids."""
        return self.unseen in MIXING_RULES and self.task_id_mode != "none"


def _divides(heads: int, heads_name: str, width: int, width_name: str) -> list[str]:
    return [] if width % heads == 0 else [f"{heads_name}={heads} does not divide {width_name}={width}"]


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
    to width e2 (T1 is (d + 1) * e1 wide when the task id is a feature element). Head: Linear-GELU-Linear.
    """

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        t1_width = config.positions1 * config.e1
        self.project = nn.Linear(t1_width, config.e2) if config.fusion == "sum" else None
        width = config.e2 if self.project is not None else t1_width + config.e2
        hidden = config.head_hidden
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, t1: Tensor, t2: Tensor) -> Tensor:
        fused = torch.cat([t1, t2], dim=1) if self.project is None else self.project(t1) + t2
        return self.head(fused).squeeze(-1)


class AutoTask(nn.Module):
    """The multi-faceted single model: logits = fusion(flatten(facet1(x, id)), facet2(x, id, t))."""

    selection_score = "score"  # the score column model selection (early stopping) watches
    LR_GROUPS = ("facet1", "facet2", "head")  # at lr_facet1, lr_facet2 and lr_head unless set by name

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.config = config
        self.facet1 = FeatureFacet(config)
        self.facet2 = BlockFacet(config)
        self.fusion = Fusion(config)
        self.gate = nn.Linear(input_width(config), config.n_tasks) if config.has_gate else None
        if self.gate is not None:  # the seen ids' mean inputs, for `moments` profiles (zero count: not set)
            self.register_buffer("seen_means", torch.zeros(config.n_tasks, input_width(config)))
            self.register_buffer("seen_counts", torch.zeros(config.n_tasks))

    def forward(self, features: Tensor, task_ids: Tensor, block_size: int | None = None,
                profile: Tensor | None = None) -> Tensor:
        """features [b, d] float, task_ids [b] long -> logits [b]. Rows are blocked in the order given.
        `profile` [n_tasks]: the seen-id weights of every unseen row (in-context mode) instead of the rule's."""
        t = self.config.block_size if block_size is None else block_size
        if not self.config.mixes_unseen:
            return self._logits(features, task_ids, t)
        if torch.compiler.is_exporting():  # torch.export (ONNX): an If node, so seen-only batches cost one pass
            return torch.cond((task_ids == 0).any(), lambda x, ids: self._full_mixture(x, ids, t, profile),
                              lambda x, ids: self._logits(x, ids, t), (features, task_ids))
        if not (torch.jit.is_tracing() or bool((task_ids == 0).any())):
            return self._logits(features, task_ids, t)
        if t == 1:
            return self._gathered_mixture(features, task_ids, profile)
        return self._full_mixture(features, task_ids, t, profile)

    def _logits(self, features: Tensor, task_ids: Tensor, t: int) -> Tensor:
        t1 = self.facet1(features, task_ids).flatten(1)
        t2 = self.facet2(features, task_ids, t)
        return self.fusion(t1, t2)

    def _gathered_mixture(self, features: Tensor, task_ids: Tensor, profile: Tensor | None) -> Tensor:
        """Block size 1: seen rows their own logit; only the unseen rows are gathered and scored under the n_tasks
        candidate ids, so seen rows cost one pass (also in traced TorchScript, where the gather size is dynamic)."""
        rows = torch.nonzero(task_ids == 0).squeeze(1)
        unseen_features = features.index_select(0, rows)
        mixed = self._mixed_probabilities(unseen_features, self.seen_task_probabilities(unseen_features), profile)
        return self._logits(features, task_ids, 1).index_copy(0, rows, _logit(mixed))

    def _full_mixture(self, features: Tensor, task_ids: Tensor, t: int, profile: Tensor | None) -> Tensor:
        """Every row under every seen id (static shapes), then seen rows keep their own logit. Larger blocks are
        scored one candidate id at a time over the whole batch (a block keeps its rows together)."""
        unseen = task_ids == 0
        if t == 1:
            per_task = self.seen_task_probabilities(features)
        else:
            per_task = torch.stack([torch.sigmoid(self._logits(features, torch.where(unseen, k, task_ids), t))
                                    for k in range(1, self.config.n_tasks + 1)], dim=1)  # [b, n]
        mixed = self._mixed_probabilities(features, per_task, profile)
        return torch.where(unseen, _logit(mixed), self._logits(features, task_ids, t))

    def _mixed_probabilities(self, features: Tensor, per_task: Tensor, profile: Tensor | None) -> Tensor:
        """sum_k w_k p_k per row, with the rule's weights or one scenario's profile."""
        if profile is None:
            return (per_task * self.unseen_weights(features)).sum(dim=1)
        return per_task @ profile

    def seen_task_probabilities(self, features: Tensor) -> Tensor:
        """[b, n_tasks]: p(y | x, id k) for every seen id k, each row scored on its own (block size 1)."""
        n, b = self.config.n_tasks, features.shape[0]
        row_zeros = torch.zeros_like(features[:, 0], dtype=torch.long)  # [b]: shapes derived from the input (exports)
        ids = (torch.arange(1, n + 1, device=features.device).unsqueeze(1) + row_zeros.unsqueeze(0)).reshape(-1)
        return torch.sigmoid(self._logits(features.repeat(n, 1), ids, 1).view(n, b).t())

    def unseen_weights(self, features: Tensor) -> Tensor:
        """[b, n_tasks] weights of the seen ids for an unseen row: uniform, or the gate's p(task | x)."""
        gate = torch.softmax(self.gate(features), dim=-1)
        return gate if self.config.unseen == "gated" else torch.full_like(gate, 1.0 / self.config.n_tasks)

    def scenario_profile(self, features: Tensor, exclude: int | None = None) -> Tensor:
        """[n_tasks] weights of the seen ids for one unseen scenario, from a sample of its rows (no labels).

        `moments` (when the seen means are set): the convex mixture of the seen ids' mean inputs closest to the
        sample's mean input. `gate` (and runs trained before the seen means existed): the gate's mean p(task | x),
        sharpened by PROFILE_SHARPNESS. `exclude`: a seen id (1-based) left out (the validation proxy)."""
        available = self.seen_counts > 0
        if exclude is not None:
            available = available.clone()
            available[exclude - 1] = False
        if self.config.profile == "moments" and bool(available.any()):
            return simplex_least_squares(self.seen_means, features.mean(dim=0), available)
        gate = torch.softmax(self.gate(features), dim=-1).mean(dim=0)
        if exclude is not None:
            gate = gate.clone()
            gate[exclude - 1] = 0.0
        return sharpened_profile(gate / gate.sum())

    @torch.no_grad()
    def observe_inputs(self, features: Tensor, task_ids: Tensor) -> None:
        """Fold a training batch into each seen id's running mean input (the training loop calls this per batch)."""
        if self.gate is None:
            return
        ids = task_ids.long()
        seen = ids > 0
        counts = torch.bincount(ids[seen] - 1, minlength=self.config.n_tasks).to(self.seen_counts)
        sums = torch.zeros_like(self.seen_means).index_add_(0, ids[seen] - 1, features[seen].to(self.seen_means))
        total = self.seen_counts + counts
        self.seen_means.add_((sums - counts.unsqueeze(1) * self.seen_means) / total.clamp(min=1).unsqueeze(1))
        self.seen_counts.copy_(total)

    def fit_seen_means(self, features: Tensor, task_ids: Tensor) -> None:
        """Set the seen means from these rows alone (runs trained before the loop observed them: their training
        splits)."""
        if self.gate is not None:
            self.seen_counts.zero_()
            self.seen_means.zero_()
            self.observe_inputs(features, task_ids)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Weights saved before the seen means existed load with them unset (profiles then come from the gate)."""
        state_dict = dict(state_dict)
        for name in ("seen_means", "seen_counts"):
            if self.gate is not None and name not in state_dict:
                state_dict[name] = torch.zeros_like(getattr(self, name))
        return super().load_state_dict(state_dict, strict, assign)

    def in_context_scores(self, features: Tensor, task_ids: Tensor, block_size: int | None = None
                          ) -> dict[str, Tensor]:
        """`score_context` for the rows of ONE scenario: unseen rows mixed with the scenario's profile, estimated from
        these rows; seen rows keep their own id's score. Empty when the model has no gate."""
        if self.gate is None or self.config.task_id_mode == "none":
            return {}
        unseen = bool((task_ids == 0).all())
        profile = self.scenario_profile(features) if unseen else None
        return {"score_context": torch.sigmoid(self(features, task_ids, block_size, profile=profile))}

    def drop_task_ids(self, task_ids: Tensor) -> Tensor:
        """In train mode, replace each id by 0 (unseen) with probability config.task_id_dropout."""
        p = self.config.task_id_dropout
        if not self.training or p == 0.0:
            return task_ids
        return task_ids.masked_fill(torch.rand(task_ids.shape, device=task_ids.device) < p, 0)

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        """BCE on the targets, plus the gate's cross-entropy on the (seen) task ids; the gate reads the raw features
        through its own parameters only, so it never changes what the facets learn."""
        # Training rows are seen (ids >= 1, or 0 by task-id dropout, which mixing rules refuse), so the loss reads
        # the direct path: no unseen branch, one graph for torch.compile.
        loss = binary_loss(self._logits(features, self.drop_task_ids(task_ids), self.config.block_size), targets)
        if self.gate is None:
            return loss
        seen = (task_ids > 0).to(features.dtype)
        per_row = F.cross_entropy(self.gate(features), (task_ids.long() - 1).clamp(min=0), reduction="none")
        return loss + (per_row * seen).sum() / seen.sum().clamp(min=1.0)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None,
              profile: Tensor | None = None) -> dict[str, Tensor]:
        """{"score": probabilities as served, "score_paper": the paper's rule}; `profile`: an unseen scenario's weights
        for its id-0 rows (`scenario_profile`).

        `score_paper` reads id 0 as the model's input, as the paper scores unseen scenarios (an all-zero one-hot
        with the number 0; no id at all under task_id_mode none): it differs from `score` only on unseen rows of a
        mixing rule. Exports and traces carry the served score alone."""
        probabilities = torch.sigmoid(self(features, task_ids, block_size, profile=profile))
        if torch.compiler.is_exporting() or torch.jit.is_tracing():
            return {"score": probabilities}
        paper = probabilities
        if self.config.mixes_unseen and bool((task_ids == 0).any()):
            t = self.config.block_size if block_size is None else block_size
            paper = torch.sigmoid(self._logits(features, task_ids, t))
        return {"score": probabilities, "score_paper": paper}

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        """Per facet and for the fusion head (with the gate): its own learning rate; decay on weight matrices only."""
        head = nn.ModuleList([self.fusion] + ([self.gate] if self.gate is not None else []))
        parts = (("facet1", self.facet1), ("facet2", self.facet2), ("head", head))
        return [group for name, module in parts for group in decay_groups(name, module, rates[name], weight_decay)]


def sharpened_profile(mean_weights: Tensor) -> Tensor:
    """A scenario's profile from its rows' mean seen-id weights: raised to PROFILE_SHARPNESS, renormalised."""
    sharpened = mean_weights ** PROFILE_SHARPNESS
    return sharpened / sharpened.sum(dim=-1, keepdim=True)


def simplex_least_squares(means: Tensor, target: Tensor, available: Tensor) -> Tensor:
    """argmin_w ||target - w @ means||^2 over weights w >= 0 summing to 1, zero where not `available`: projected
    gradient descent from the uniform mixture, step 1/L (L: twice the largest eigenvalue of means @ means.T)."""
    rows = means[available].double()
    gram, target = rows @ rows.T, rows @ target.double()
    step = 1.0 / (2 * float(torch.linalg.eigvalsh(gram)[-1]) + 1e-12)
    w = torch.full((len(rows),), 1.0 / len(rows), dtype=torch.float64, device=means.device)
    for _ in range(SIMPLEX_STEPS):
        w = project_to_simplex(w - step * 2 * (gram @ w - target))
    out = torch.zeros(len(means), dtype=means.dtype, device=means.device)
    out[available] = w.to(means.dtype)
    return out


def project_to_simplex(v: Tensor) -> Tensor:
    """The Euclidean projection of v onto {w >= 0, sum w = 1} (Duchi et al. 2008)."""
    u = torch.sort(v, descending=True).values
    cumulative = torch.cumsum(u, 0) - 1
    k = torch.arange(1, len(v) + 1, dtype=v.dtype, device=v.device)
    rho = int(torch.nonzero(u - cumulative / k > 0).max())
    return torch.clamp(v - cumulative[rho] / (rho + 1), min=0)


def _logit(probabilities: Tensor) -> Tensor:
    return torch.logit(probabilities.clamp(PROBABILITY_EPS, 1 - PROBABILITY_EPS))




def check_search_params(config: AutoTaskConfig, derived: dict, d: int) -> list[str]:
    """A sampled search config must keep e2 = d·e1 (the returned constant and the config alike)."""
    e2 = derived.get("e2", config.e2)
    if e2 != d * config.e1 or config.e2 != d * config.e1:
        return [f"breaks d·e1 = e2 (d={d}, e1={config.e1}, e2={e2})"]
    return []


register(ModelKind(
    name="autotask", summary="AutoTask: task-aware feature modelling and cross-task interaction over blocks",
    config_cls=AutoTaskConfig, model_cls=AutoTask, score_columns=("score", "score_paper", "score_context"),
    selection_score=AutoTask.selection_score, lr_groups=AutoTask.LR_GROUPS, search_space="search_spaces/autotask.py",
    shown_params=("lr_facet1", "lr_facet2", "e1", "e2", "block_size"), check_params=check_search_params,
))
