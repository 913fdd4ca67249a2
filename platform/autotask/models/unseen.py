"""AutoTask's unseen scenarios: what task id 0 means, and the in-context profile of a new scenario.

Unseen scenarios (task id 0) never occur in training, so id 0 gets a defined meaning by construction (the config's
`unseen`): `mixture` scores the row under every seen id and averages the probabilities, `gated` weights that average
by a task classifier trained on the features (the gate, p(seen task | x)), `zero` reads an all-zero one-hot, and
`slot` keeps a one-hot column of its own for id 0, which only `task_id_dropout > 0` trains.

Beside the per-row rules, an in-context mode scores an unseen scenario with one weighting for all its rows, its
*profile* (`scenario_profile`: estimated from its unlabelled rows); a scored group of rows then depends on its
neighbours, so it is reported as its own score column (`score_context`), never as the default score. The profile
(`profile`): `moments` (default) matches the scenario's mean input with a convex mixture of the seen ids' mean inputs
(`seen_means`, summed over every worker's training rows); `gate` averages the gate's p(task | x); `em` finds the
proportions of the seen ids that maximise the sample's likelihood under the gate, by EM (Saerens et al. 2002,
"Adjusting the outputs of a classifier to new a priori probabilities"), on the gate recalibrated after training
(`gate_calibration`: a temperature and a bias per id fitted on the validation split's seen rows, Alexandari et al.
2020), and shrinks them toward the gate's profile (EM_SHARE).

`UnseenScenarios`, a mixin of `AutoTask` (models/autotask.py), owns the gate and buffers (saved weights keep their
keys); it reads the model's `config` and its direct route `_logits(features, task_ids, t)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autotask.models.interface import one_of
from autotask.models.language import input_width

UNSEEN_RULES = ("mixture", "gated", "zero", "slot")
MIXING_RULES = ("mixture", "gated")  # rules that score an unseen row under every seen id
PROBABILITY_EPS = 1e-6
# Scenario profiles (in-context mode): the gate's mean p(task | x) over a scenario's rows, raised to this power and
# renormalised. Chosen on the validation proxy (seen scenarios scored without their own id) over three simulator
# seeds: power 1, 2, 4 and argmax gave 78.7, 79.9, 79.5 and 77.4 (docs/results/quality.md).
PROFILE_SHARPNESS = 2.0
# How an unseen scenario's profile is estimated from its unlabelled rows (the config's `profile`, default `moments`).
# Chosen on 39 development sets (34 selection worlds of world seeds 1-3, simulator seeds 1 and 2, Home Depot x 3):
# mean unseen AUC over 50 / 200 / 1,000 onboarding rows 73.52 for `moments`, 72.89 `em`, 72.11 `gate`; confirmed on 16
# fresh worlds (seed 4) by the rule fixed beforehand: +1.10 over `gate` with 200 rows (docs/worlds.md, "The onboarding
# estimator chosen again"). Runs trained before the seen means existed fall back to `gate`.
PROFILES = ("moments", "gate", "em")
EM_STEPS = 200  # at most this many EM iterations for an `em` profile (it stops earlier once the weights settle)
EM_TOLERANCE = 1e-6
# An `em` profile is this share of the EM proportions plus the rest of the gate's profile. Chosen on the development
# data (docs/worlds.md, "Onboarding by EM"): EM alone gained most on the mean but lost up to 8 points on one world
# whose new scenario matches no seen mixture; half of each kept most of the gain and halved the worst loss.
EM_SHARE = 0.5
# How the gate is fitted: `joint` beside the facets only (its loss in every training step), `refit` then fitted again
# on its own to convergence after training (training/gate_fit.py). `refit` won on the development data (onboarding
# profile +0.40 over 15 sets) but lost on the held-out benchmark worlds (served gated rule -0.81, onboarding -0.26),
# so it stays a switch (docs/worlds.md, "The gate fitted on its own").
GATE_FITS = ("joint", "refit")
SIMPLEX_STEPS = 1000  # projected-gradient steps of the moment matching (a convex problem of n_tasks weights)
# The moment matching's pull toward the gate's profile (relative to the seen means' squared norm). Chosen on the
# development data over 50, 200 and 1,000 onboarding rows: 0, 0.01, 0.1, 1 gave 76.25, 76.23, 76.33, 76.15
# (mean unseen AUC, docs/worlds.md), after the benchmark worlds showed the unregularised weights jumping with N.
MOMENTS_RIDGE = 0.1


def unseen_problems(config) -> list[str]:
    """The config's unseen-scenario fields: a known rule and profile, and id 0 trained exactly when it is read."""
    problems = one_of(config, "unseen", UNSEEN_RULES) + one_of(config, "profile", PROFILES)
    problems += one_of(config, "gate_fit", GATE_FITS)
    if config.gate_fit == "refit" and not config.has_gate:
        problems.append("gate_fit='refit' needs a gate, which unseen='slot' and task_id_mode='none' do not train")
    if config.unseen == "slot" and config.task_id_dropout == 0.0:
        problems.append("unseen='slot' needs task_id_dropout > 0 (no training row has id 0, so its one-hot "
                        "column would keep its random initial weights)")
    if config.task_id_dropout > 0.0 and config.unseen in MIXING_RULES:
        problems.append(f"task_id_dropout > 0 trains id 0, which unseen={config.unseen!r} never reads; "
                        "use unseen='zero' or 'slot'")
    return problems


def exporting() -> bool:
    """Whether the model is being exported: torch.export (ONNX) or torch.jit.trace (TorchScript).

    Both record one graph for every later input, so a Python `if` on the data (are there unseen rows?) would freeze
    the example's answer. `UnseenScenarios.unseen_logits` is the one place the route differs: torch.export gets a
    `torch.cond` (an ONNX If node, so a seen-only batch still costs one pass), a trace always takes the mixture
    (at block size 1 it gathers the unseen rows, a dynamic size TorchScript keeps). An artefact carries the served
    score alone (`AutoTask.score`)."""
    return torch.compiler.is_exporting() or torch.jit.is_tracing()


class UnseenScenarios:
    """AutoTask's unseen-scenario rules, gate and profiles (module docstring). Needs `config` and `_logits`."""

    def _init_unseen(self, config) -> None:
        """The gate p(seen task | x), and the seen ids' mean inputs for `moments` profiles (zero count: not set)."""
        self.gate = nn.Linear(input_width(config), config.n_tasks) if config.has_gate else None
        if self.gate is not None:
            self.register_buffer("seen_means", torch.zeros(config.n_tasks, input_width(config)))
            self.register_buffer("seen_counts", torch.zeros(config.n_tasks))
            # [log temperature, a bias per id] and the calibration rows' id counts (zero: not calibrated)
            self.register_buffer("gate_calibration", torch.zeros(config.n_tasks + 1))
            self.register_buffer("gate_calibration_counts", torch.zeros(config.n_tasks))

    def unseen_logits(self, features: Tensor, task_ids: Tensor, t: int, profile: Tensor | None) -> Tensor:
        """Seen rows their own logit; unseen rows (id 0) the rule's (or `profile`'s) mixture over the seen ids.
        Eager: a batch without unseen rows takes the direct route. Exports: see `exporting`."""
        def direct(x: Tensor, ids: Tensor) -> Tensor:
            return self._logits(x, ids, t)

        def full(x: Tensor, ids: Tensor) -> Tensor:
            return self._full_mixture(x, ids, t, profile)

        if torch.compiler.is_exporting():
            return torch.cond((task_ids == 0).any(), full, direct, (features, task_ids))
        if not (torch.jit.is_tracing() or bool((task_ids == 0).any())):
            return direct(features, task_ids)
        return self._gathered_mixture(features, task_ids, profile) if t == 1 else full(features, task_ids)

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

    def gate_loss(self, features: Tensor, task_ids: Tensor) -> Tensor:
        """The gate's cross-entropy on the seen rows' ids; it reads the raw features through its own parameters
        only, so it never changes what the facets learn."""
        seen = (task_ids > 0).to(features.dtype)
        per_row = F.cross_entropy(self.gate(features), (task_ids.long() - 1).clamp(min=0), reduction="none")
        return (per_row * seen).sum() / seen.sum().clamp(min=1.0)

    @torch.no_grad()
    def scenario_profile(self, features: Tensor, exclude: int | None = None, estimator: str | None = None
                         ) -> Tensor:
        """[n_tasks] weights of the seen ids for one unseen scenario, from a sample of its rows (no labels), by
        `estimator` (one of PROFILES; default the config's `profile`).

        `moments` (when the seen means are set): the convex mixture of the seen ids' mean inputs closest to the
        sample's mean input. `em` (when the gate was recalibrated): the seen ids' proportions in the sample by EM on
        the recalibrated gate (`em_proportions`), EM_SHARE of them plus the rest of the gate's profile. `gate` (and
        runs trained before the seen means or the recalibration existed): the gate's mean p(task | x), sharpened by
        PROFILE_SHARPNESS. `exclude`: a seen id (1-based) left out (the validation proxy)."""
        gate = torch.softmax(self.gate(features), dim=-1).mean(dim=0)
        if exclude is not None:
            gate = gate.clone()
            gate[exclude - 1] = 0.0
        prior = sharpened_profile(gate / gate.sum())
        estimator = estimator or self.config.profile
        if estimator not in PROFILES:
            raise ValueError(f"profile estimator must be one of {PROFILES}, got {estimator!r}")
        counts = {"moments": self.seen_counts, "em": self.gate_calibration_counts}.get(estimator)
        if counts is None:
            return prior
        available = counts > 0  # ids the estimator has statistics for (none: a run trained before it existed)
        if exclude is not None:
            available[exclude - 1] = False
        if not bool(available.any()):
            return prior
        if estimator == "moments":
            return simplex_least_squares(self.seen_means, features.mean(dim=0), available, prior)
        proportions = em_proportions(self.calibrated_gate(features), self.gate_calibration_counts, available)
        return EM_SHARE * proportions + (1 - EM_SHARE) * prior

    def calibrated_gate(self, features: Tensor) -> Tensor:
        """[b, n_tasks]: the gate's p(task | x) with its recalibration (`gate_calibration`; zeros: the gate's own)."""
        log_temperature, bias = self.gate_calibration[0], self.gate_calibration[1:]
        return torch.softmax(self.gate(features) * torch.exp(-log_temperature) + bias, dim=-1)

    @torch.no_grad()
    def input_sums(self, features: Tensor, task_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(counts [n_tasks], sums [n_tasks, width]) of these rows' inputs per seen id (training/seen_inputs.py)."""
        ids = task_ids.long()
        seen = ids > 0
        counts = torch.bincount(ids[seen] - 1, minlength=self.config.n_tasks).to(self.seen_counts)
        sums = torch.zeros_like(self.seen_means).index_add_(0, ids[seen] - 1, features[seen].to(self.seen_means))
        return counts, sums

    @torch.no_grad()
    def add_input_sums(self, counts: Tensor, sums: Tensor) -> None:
        """Fold counts and sums of training inputs per seen id (`input_sums`) into each id's running mean input."""
        total = self.seen_counts + counts
        self.seen_means.add_((sums - counts.unsqueeze(1) * self.seen_means) / total.clamp(min=1).unsqueeze(1))
        self.seen_counts.copy_(total)

    def fit_seen_means(self, features: Tensor, task_ids: Tensor) -> None:
        """Set the seen means from these rows alone (older runs: their training splits)."""
        if self.gate is not None:
            self.seen_counts.zero_()
            self.seen_means.zero_()
            self.add_input_sums(*self.input_sums(features, task_ids))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Weights saved before the seen means or the gate's recalibration existed load with them unset (profiles
        then come from the gate)."""
        state_dict = dict(state_dict)
        for name in ("seen_means", "seen_counts", "gate_calibration", "gate_calibration_counts"):
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


def sharpened_profile(mean_weights: Tensor) -> Tensor:
    """A scenario's profile from its rows' mean seen-id weights: raised to PROFILE_SHARPNESS, renormalised."""
    sharpened = mean_weights ** PROFILE_SHARPNESS
    return sharpened / sharpened.sum(dim=-1, keepdim=True)


def em_proportions(posteriors: Tensor, train_counts: Tensor, available: Tensor) -> Tensor:
    """[n_tasks] mixture proportions of the seen ids in a sample, by EM (Saerens et al. 2002).

    `posteriors` [m, n_tasks] is the gate's p(task | x) per sample row, learnt under the training rows' id frequencies
    (`train_counts`). Each step reweights every row's posterior by (proportion / training frequency), renormalises it
    and averages over the rows; the fixed point maximises the sample's likelihood as a mixture of the seen ids'
    feature distributions. Ids not `available` keep weight 0. Starts from the training frequencies, so its first
    step is the mean posterior (the `gate` profile before sharpening)."""
    frequencies = train_counts.double() * available
    frequencies = frequencies / frequencies.sum()
    ratios = torch.where(available, posteriors.double() / frequencies.clamp(min=1e-12), 0.0)
    proportions = frequencies
    for _ in range(EM_STEPS):
        joint = ratios * proportions
        updated = (joint / joint.sum(dim=1, keepdim=True).clamp(min=1e-300)).mean(dim=0)
        settled = float((updated - proportions).abs().max()) < EM_TOLERANCE
        proportions = updated
        if settled:
            break
    return (proportions / proportions.sum()).to(posteriors.dtype)


def simplex_least_squares(means: Tensor, target: Tensor, available: Tensor, prior: Tensor) -> Tensor:
    """argmin_w ||target - w @ means||^2 + r ||w - prior||^2 over weights w >= 0 summing to 1, zero where not
    `available`; r = MOMENTS_RIDGE x the mean squared norm of the seen means. The ridge keeps the answer near the
    gate's profile where many mixtures match the mean almost equally well (seen scenarios with close means), so the
    weights do not jump with the sample. Projected gradient descent from the prior, step 1/L."""
    rows = means[available].double()
    prior = prior[available].double()
    prior = prior / prior.sum() if float(prior.sum()) > 0 else torch.full_like(prior, 1.0 / len(prior))
    gram = rows @ rows.T
    ridge = MOMENTS_RIDGE * float(torch.trace(gram)) / len(rows)
    gram = gram + ridge * torch.eye(len(rows), dtype=torch.float64, device=means.device)
    target = rows @ target.double() + ridge * prior
    step = 1.0 / (2 * float(torch.linalg.eigvalsh(gram)[-1]) + 1e-12)
    w = prior.clone()
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
