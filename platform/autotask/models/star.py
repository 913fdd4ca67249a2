"""STAR (Sheng et al., CIKM 2021, "One Model to Serve All: Star Topology Adaptive Recommender for Multi-Domain CTR
Prediction"); domains are scenarios.

- Partitioned normalization (PN) of the features: x_hat * (gamma * gamma_p) + (beta + beta_p), with gamma, beta
  shared and gamma_p, beta_p of domain p. x_hat is normalised in training with the batch statistics of the row's
  own domain (id 0: of the whole batch; the running statistics when there are fewer than 2 rows to take them from)
  and at eval with the domain's running statistics (id 0: the global running statistics, over every row).
- The star-topology FCN: layer l of domain p has weight W_l ⊙ W_lp and bias b_l + b_lp (shared W_l, b_l; domain
  W_lp, b_lp), hidden layers ReLU; its last layer gives the star logit.
- The auxiliary network: an MLP over [embedding of the domain id, features] whose logit is added to the star logit.

Domain factors are stored as offsets from the identity: gamma_p = 1 + delta, W_lp = 1 + Delta (initialised at
zero, so training starts at the shared model), and weight decay on the Delta matrices pulls each domain towards the
shared centre. A row of seen domain p reads the shared parameters, domain p's own and the auxiliary network, so
training touches no other domain's parameters.

Id 0 (an unseen scenario) is the centre of the star: PN with the global running statistics (over every row) and
the shared affine gamma, beta alone; the shared FCN weights alone (domain factors of ones and zeros); an auxiliary
domain code of zeros (a fixed row, not a parameter). Every parameter it reads is shared and trained by every row.
`task_id_dropout` routes that fraction of training rows through the id-0 path as well, so the centre is also
trained as a predictor in its own right (the paper has no unseen domain; 0 gives the paper's training).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.interface import binary_loss, dropout_rates, positive, validate
from autotask.models.registry import ModelKind, register
from autotask.models.task_paths import named_param_groups, widths_problem

PN_EPS = 1e-5
PN_MOMENTUM = 0.1  # as BatchNorm: running = (1 - m) * running + m * batch


@dataclass
class STARConfig:
    """Star FCN of widths `hidden` then 1; auxiliary MLP [aux_embedding + d] -> aux_hidden -> 1; `task_id_dropout`:
    the fraction of training rows routed through the id-0 (shared-only) path."""

    d: int
    n_tasks: int
    hidden: tuple[int, ...] = (64, 32)
    aux_embedding: int = 8
    aux_hidden: int = 16
    task_id_dropout: float = 0.1
    dropout: float = 0.0

    def __post_init__(self):
        self.hidden = tuple(self.hidden)  # JSON round trips give lists
        problems = (positive(self, ("d", "n_tasks", "aux_embedding", "aux_hidden"))
                    + dropout_rates(self, ("task_id_dropout", "dropout")) + widths_problem("hidden", self.hidden))
        validate(problems, "STARConfig")


class StarShared(nn.Module):
    """The centre: PN's gamma, beta and the FCN's weights and biases (initialised as nn.Linear)."""

    def __init__(self, widths: list[int]):
        super().__init__()
        self.pn_scale = nn.Parameter(torch.ones(widths[0]))
        self.pn_shift = nn.Parameter(torch.zeros(widths[0]))
        layers = [nn.Linear(n_in, n_out) for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)]
        self.weights = nn.ParameterList(layer.weight for layer in layers)
        self.biases = nn.ParameterList(layer.bias for layer in layers)


class StarDomain(nn.Module):
    """One seen domain's offsets: gamma_p = 1 + pn_scale_delta, beta_p = pn_shift, W_lp = 1 + weight_deltas[l],
    b_lp = biases[l]; all zero at initialisation."""

    def __init__(self, widths: list[int]):
        super().__init__()
        self.pn_scale_delta = nn.Parameter(torch.zeros(widths[0]))
        self.pn_shift = nn.Parameter(torch.zeros(widths[0]))
        self.weight_deltas = nn.ParameterList(torch.zeros(n_out, n_in)
                                              for n_in, n_out in zip(widths[:-1], widths[1:], strict=True))
        self.biases = nn.ParameterList(torch.zeros(n_out) for n_out in widths[1:])


class STAR(nn.Module):
    """shared: the centre's parameters; domain[p - 1]: seen domain p's; auxiliary: the domain code and MLP.

    Buffers running_mean / running_var [N + 1, d]: row 0 global (every row), row p domain p. forward returns the
    star logit + the auxiliary logit [b].
    """

    selection_score = "score"
    LR_GROUPS = ("shared", "domain", "auxiliary")

    def __init__(self, config: STARConfig):
        super().__init__()
        self.config = config
        widths = [config.d, *config.hidden, 1]
        self.shared = StarShared(widths)
        self.domain = nn.ModuleList(StarDomain(widths) for _ in range(config.n_tasks))
        self.auxiliary = nn.ModuleDict({
            "code": nn.Embedding(config.n_tasks + 1, config.aux_embedding, padding_idx=0),  # id 0: zeros, fixed
            "mlp": nn.Sequential(nn.Linear(config.aux_embedding + config.d, config.aux_hidden), nn.ReLU(),
                                 nn.Dropout(config.dropout), nn.Linear(config.aux_hidden, 1)),
        })
        self.register_buffer("running_mean", torch.zeros(config.n_tasks + 1, config.d))
        self.register_buffer("running_var", torch.ones(config.n_tasks + 1, config.d))

    def route(self, task_ids: Tensor) -> Tensor:
        """The domain each row is served as: its id, or 0 for a `task_id_dropout` fraction of training rows."""
        task_ids = task_ids.long()
        if self.training and self.config.task_id_dropout > 0:
            dropped = torch.rand(task_ids.shape, device=task_ids.device) < self.config.task_id_dropout
            task_ids = task_ids.masked_fill(dropped, 0)
        return task_ids

    def normalise(self, features: Tensor, domains: Tensor) -> Tensor:
        """x_hat of PN: each row standardised by its domain's statistics (see the module docstring)."""
        if not self.training:
            return (features - self.running_mean[domains]) / torch.sqrt(self.running_var[domains] + PN_EPS)
        n_domains = self.config.n_tasks + 1
        counts = torch.bincount(domains, minlength=n_domains)
        n = counts.clamp(min=1).unsqueeze(1).to(features.dtype)
        mean = features.new_zeros(n_domains, features.shape[1]).index_add(0, domains, features) / n
        var = features.new_zeros(n_domains, features.shape[1]).index_add(
            0, domains, (features - mean[domains]) ** 2) / n
        # id 0: the whole batch's statistics (every row), as its running statistics are at eval
        mean = torch.cat([features.mean(0, keepdim=True), mean[1:]])
        var = torch.cat([features.var(0, unbiased=False, keepdim=True), var[1:]])
        counts = torch.cat([counts.new_full((1,), len(features)), counts[1:]]).unsqueeze(1)
        enough = counts >= 2  # fewer rows: the running statistics, left as they are
        mean_used = torch.where(enough, mean, self.running_mean)
        var_used = torch.where(enough, var, self.running_var)
        with torch.no_grad():
            unbiased = var * counts / (counts - 1).clamp(min=1)
            self.running_mean.copy_(torch.where(enough, self.running_mean.lerp(mean, PN_MOMENTUM), self.running_mean))
            self.running_var.copy_(torch.where(enough, self.running_var.lerp(unbiased, PN_MOMENTUM), self.running_var))
        return (features - mean_used[domains]) / torch.sqrt(var_used[domains] + PN_EPS)

    def forward(self, features: Tensor, task_ids: Tensor) -> Tensor:
        """Every domain's PN affine and FCN layers are applied to every row and each row keeps its own domain's
        (a fixed graph for any mix of ids, so the model traces and exports; the models are small)."""
        domains = self.route(task_ids)
        shared, own = self.shared, [(domains == p).unsqueeze(1) for p in range(1, self.config.n_tasks + 1)]
        scale = torch.cat([shared.pn_scale[None], shared.pn_scale * (1 + torch.stack(
            [domain.pn_scale_delta for domain in self.domain]))])
        shift = torch.cat([shared.pn_shift[None], shared.pn_shift + torch.stack(
            [domain.pn_shift for domain in self.domain])])
        h = self.normalise(features, domains) * scale[domains] + shift[domains]
        n_layers = len(shared.weights)
        for layer, (w, b) in enumerate(zip(shared.weights, shared.biases, strict=True)):
            out = F.linear(h, w, b)  # id 0: the shared weights alone
            for rows, domain in zip(own, self.domain, strict=True):
                out = torch.where(rows, F.linear(h, w * (1 + domain.weight_deltas[layer]), b + domain.biases[layer]),
                                  out)
            h = F.dropout(F.relu(out), self.config.dropout, self.training) if layer < n_layers - 1 else out
        code = self.auxiliary["code"](domains)
        return h.squeeze(1) + self.auxiliary["mlp"](torch.cat([code, features], dim=1)).squeeze(1)

    def training_loss(self, features: Tensor, task_ids: Tensor, targets: Tensor) -> Tensor:
        """BCE of the served logit (star + auxiliary) on every row."""
        return binary_loss(self(features, task_ids), targets)

    def score(self, features: Tensor, task_ids: Tensor, block_size: int | None = None) -> dict[str, Tensor]:
        """{"score": probability}; block_size is unused (rows are independent at eval)."""
        return {"score": torch.sigmoid(self(features, task_ids))}

    def param_groups(self, rates: dict[str, float], weight_decay: float = 0.0) -> list[dict]:
        """Shared, domain and auxiliary parameters each at its rate (lr_head unless set); decay on weight matrices
        only (the domain offsets Delta decay towards the shared centre)."""
        return named_param_groups(self, rates, weight_decay)


register(ModelKind(
    name="star", summary="STAR (Sheng et al. 2021): partitioned normalization, a star-topology FCN (shared ⊙ "
    "scenario weights) and an auxiliary network over the scenario id", config_cls=STARConfig, model_cls=STAR,
    score_columns=("score",), selection_score=STAR.selection_score, lr_groups=STAR.LR_GROUPS,
    search_space="search_spaces/star.py", shown_params=("lr_head", "hidden", "aux_hidden", "task_id_dropout"),
))
