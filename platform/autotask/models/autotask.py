"""AutoTask (paper section 3): a task-aware feature facet and a cross-task block facet, fused into one logit.

Read top to bottom: the config, then the model with its uniform training/scoring interface. Its parts (the task-id
inputs, facet 1: attention along the feature axis, facet 2: attention along a block of rows, and the fusion) are
models/autotask_facets.py; what task id 0 (an unseen scenario) means, the gate and the in-context profiles are
models/unseen.py (`UnseenScenarios`, a mixin of the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from autotask.models.autotask_facets import LANGUAGE_TEXTS, BlockFacet, FacetMember, FeatureFacet, Fusion
from autotask.models.interface import binary_loss, decay_groups, dropout_rates, non_negative, one_of, positive, validate
from autotask.models.language import language_problems
from autotask.models.registry import ModelKind, register
from autotask.models.tokenizers import TOKENIZERS
from autotask.models.unseen import MIXING_RULES, UnseenScenarios, exporting, unseen_problems

TASK_ID_MODES = ("none", "number", "encoding")
FUSIONS = ("concat", "sum")
ATTENTIONS = ("causal", "full")
LANGUAGE_FACET2 = ("product", "vectors", "none")  # what facet 2's row token reads of the language inputs


@dataclass
class AutoTaskConfig:
    """AutoTask hyper-parameters. `d` and `n_tasks` come from the data; `e2 = d * e1` is derived, never set.

    task_id_mode: `none` (ids ignored), `number` (id appended as the last feature element), `encoding`
    (number plus a one-hot of the seen ids, see `unseen`, in every facet-1 token and, when
    `facet2_task_encoding`, in every facet-2 row token).
    fusion: `concat` (head on [T1, T2]) or `sum` (head on Linear(T1) + T2). attention: `causal` or `full`.
    task_id_dropout: training only, the rate at which a row's id is replaced by 0 (so id 0 learns a
    general representation for unseen scenarios); only with unseen `zero` or `slot`.
    unseen: what id 0 means (models/unseen.py). tokenizer: how facet 1 embeds each feature value, `shared` (one
    Linear for every feature, the paper), `per-feature`, `periodic` or `piecewise` (Gorishniy et al. 2022).
    language: `none`, or `embeddings`: the dataset's query and offer embeddings (`language_width` floats after the
    d features, set from the data) become `language_tokens` facet-1 tokens per text plus one query*offer token
    after the feature and task-id tokens, and join facet 2's row tokens; d (and so e2 = d * e1) still counts the
    features only.
    language_dropout: training only, the rate at which a row's language inputs (both vectors) are replaced by zeros,
    so the model cannot lean on memorised query vectors alone; no effect without language. 0.5 kept validation at
    or above features-only on three Home Depot query splits, where 0 fell below on two (docs/home-depot.md).
    task_tower: when > 0 and task_id_mode is `encoding`, every seen scenario gets its own tower (Linear(head_hidden,
    task_tower)-ReLU-Linear(1), as the DNN's task branches) on the fusion head's hidden layer, its logit added to
    the shared head's (`TaskTowers`); 0 is the paper's head. Chosen on the selection worlds (docs/worlds.md).
    members: an ensemble in one model (in the spirit of TabM, Gorishniy et al. 2025): `members` independently
    initialised copies of facet 1, facet 2 and the fusion head, each trained on its own loss, their logits averaged
    when scoring; the gate, the unseen rules and the profiles are shared. 1 is the paper's model.
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
    language_dropout: float = 0.5  # training only: the rate at which a row's language inputs are zeroed
    profile: str = "moments"  # or "gate", "em": a new scenario's onboarding profile (models/unseen.py)
    gate_fit: str = "joint"  # or "refit": fitted again on its own after training (training/gate_fit.py; not adopted)
    task_tower: int = 8  # per-scenario towers on the head (0: none, the paper's head; docs/worlds.md)
    members: int = 1  # ensemble members: facet pairs and heads whose logits are averaged (docs/worlds.md)

    def __post_init__(self):
        problems = positive(self, ("d", "n_tasks", "e1", "block_size", "n_layer1", "n_head1", "n_layer2",
                                   "n_head2", "head_hidden", "members"))
        problems += non_negative(self, ("task_tower",))
        problems += dropout_rates(self, ("dropout1", "dropout2", "task_id_dropout", "language_dropout"))
        problems += one_of(self, "task_id_mode", TASK_ID_MODES)
        problems += one_of(self, "fusion", FUSIONS)
        problems += one_of(self, "attention", ATTENTIONS)
        problems += one_of(self, "tokenizer", TOKENIZERS)
        problems += language_problems(self, texts=LANGUAGE_TEXTS) + positive(self, ("language_tokens",))
        problems += one_of(self, "language_facet2", LANGUAGE_FACET2)
        problems += unseen_problems(self)
        if not problems:
            problems += _divides(self.n_head1, "n_head1", self.e1, "e1")
            problems += _divides(self.n_head2, "n_head2", self.e2, f"e2 = d * e1 = {self.e2}")
        validate(problems, "AutoTaskConfig")
        if self.language == "none":
            self.language_dropout = 0.0  # it drops language inputs: without them it means nothing (saved as 0)

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
    def has_towers(self) -> bool:
        """Per-scenario towers are per-id parameters, so only the one-hot encoding mode has them (the `number` and
        `none` ablations keep the paper's head)."""
        return self.task_tower > 0 and self.task_id_mode == "encoding"

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


class AutoTask(UnseenScenarios, nn.Module):
    """The multi-faceted single model: logits = fusion(flatten(facet1(x, id)), facet2(x, id, t)); an unseen row
    (id 0) under a mixing rule is scored by `UnseenScenarios.unseen_logits` (models/unseen.py)."""

    selection_score = "score"  # the score column model selection (early stopping) watches
    LR_GROUPS = ("facet1", "facet2", "head")  # at lr_facet1, lr_facet2 and lr_head unless set by name

    def __init__(self, config: AutoTaskConfig):
        super().__init__()
        self.config = config
        self.facet1 = FeatureFacet(config)
        self.facet2 = BlockFacet(config)
        self.fusion = Fusion(config)
        self.more_members = nn.ModuleList([FacetMember(config) for _ in range(config.members - 1)])
        self._init_unseen(config)  # the gate, the seen ids' mean inputs and the gate's recalibration (models/unseen.py)

    def forward(self, features: Tensor, task_ids: Tensor, block_size: int | None = None,
                profile: Tensor | None = None) -> Tensor:
        """features [b, d] float, task_ids [b] long -> logits [b]. Rows are blocked in the order given.
        `profile` [n_tasks]: the seen-id weights of every unseen row (in-context mode) instead of the rule's."""
        t = self.config.block_size if block_size is None else block_size
        if not self.config.mixes_unseen:
            return self._logits(features, task_ids, t)
        return self.unseen_logits(features, task_ids, t, profile)

    def _logits(self, features: Tensor, task_ids: Tensor, t: int) -> Tensor:
        """Every row under its own id: the members' mean logit."""
        logits = self._member_logits(features, task_ids, t)
        return logits[0] if len(logits) == 1 else torch.stack(logits).mean(dim=0)

    def _member_logits(self, features: Tensor, task_ids: Tensor, t: int) -> list[Tensor]:
        return [member.fusion(member.facet1(features, task_ids).flatten(1), member.facet2(features, task_ids, t),
                              task_ids)
                for member in (self, *self.more_members)]

    def drop_task_ids(self, task_ids: Tensor) -> Tensor:
        """In train mode, replace each id by 0 (unseen) with probability config.task_id_dropout."""
        p = self.config.task_id_dropout
        if not self.training or p == 0.0:
            return task_ids
        return task_ids.masked_fill(torch.rand(task_ids.shape, device=task_ids.device) < p, 0)

    def drop_language(self, features: Tensor) -> Tensor:
        """In train mode, zero each row's language inputs with probability config.language_dropout."""
        p, d = self.config.language_dropout, self.config.d
        if not self.training or p == 0.0 or features.shape[1] == d:
            return features
        keep = (torch.rand(features.shape[0], 1, device=features.device) >= p).to(features.dtype)
        return torch.cat([features[:, :d], features[:, d:] * keep], dim=1)

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        """BCE on the targets, plus the gate's cross-entropy on the (seen) task ids (`gate_loss`)."""
        # Training rows are seen (ids >= 1, or 0 by task-id dropout, which mixing rules refuse), so the loss reads
        # the direct path: no unseen branch, one graph for torch.compile.
        # Each member learns on its own loss (their mean), so members stay diverse (TabM).
        logits = self._member_logits(self.drop_language(features), self.drop_task_ids(task_ids),
                                     self.config.block_size)
        loss = sum(binary_loss(member, targets) for member in logits) / len(logits)
        return loss if self.gate is None else loss + self.gate_loss(features, task_ids)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None,
              profile: Tensor | None = None) -> dict[str, Tensor]:
        """{"score": probabilities as served, "score_paper": the paper's rule}; `profile`: an unseen scenario's weights
        for its id-0 rows (`scenario_profile`).

        `score_paper` reads id 0 as the model's input, as the paper scores unseen scenarios (an all-zero one-hot
        with the number 0; no id at all under task_id_mode none): it differs from `score` only on unseen rows of a
        mixing rule. Exports and traces carry the served score alone."""
        probabilities = torch.sigmoid(self(features, task_ids, block_size, profile=profile))
        if exporting():
            return {"score": probabilities}
        paper = probabilities
        if self.config.mixes_unseen and bool((task_ids == 0).any()):
            t = self.config.block_size if block_size is None else block_size
            paper = torch.sigmoid(self._logits(features, task_ids, t))
        return {"score": probabilities, "score_paper": paper}

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        """Per facet and for the fusion head (with the gate): its own learning rate; decay on weight matrices only."""
        members = (self, *self.more_members)
        head = nn.ModuleList([m.fusion for m in members] + ([self.gate] if self.gate is not None else []))
        parts = (("facet1", nn.ModuleList([m.facet1 for m in members])),
                 ("facet2", nn.ModuleList([m.facet2 for m in members])), ("head", head))
        return [group for name, module in parts for group in decay_groups(name, module, rates[name], weight_decay)]


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
    # runs saved before these fields had none of them
    legacy_config={"task_tower": 0, "language_dropout": 0.0, "gate_fit": "joint"},
))
