"""MMoE, PLE (CGC and two levels) and STAR: shapes, parameter groups, per-task gradient isolation, the unseen-id
rule, overfitting, block-size independence, batch = row by row, configs, registry and search spaces."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autotask.data.manifest import Manifest
from autotask.models.mmoe import MMoE, MMoEConfig
from autotask.models.ple import PLE, PLEConfig
from autotask.models.registry import kinds
from autotask.models.star import PN_EPS, STAR, STARConfig
from autotask.serving.model import ServingModel, example_inputs
from autotask.tuning.space import check_space, load_space

D, N_TASKS = 5, 4
REPO = Path(__file__).resolve().parents[2]
MODELS = {
    "mmoe": lambda **kw: MMoE(MMoEConfig(d=D, n_tasks=N_TASKS, **kw)),
    "ple": lambda **kw: PLE(PLEConfig(d=D, n_tasks=N_TASKS, **kw)),
    "ple-2-levels": lambda **kw: PLE(PLEConfig(d=D, n_tasks=N_TASKS, n_levels=2, **kw)),
    "star": lambda **kw: STAR(STARConfig(d=D, n_tasks=N_TASKS, **kw)),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models: one thread is fastest, and kinder to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name: str, **overrides):
    torch.manual_seed(0)
    return MODELS[name](**overrides)


def inputs(b: int = 16, seed: int = 0, low: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, D, generator=g), torch.randint(low, N_TASKS + 1, (b,), generator=g)


def warmed_up(name: str):
    """A model after a few training steps on every id (STAR's running statistics move off their defaults)."""
    model = build(name).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(5):
        x, ids = inputs(64, seed=100 + step)
        optimizer.zero_grad()
        model.training_loss(x * 2 + 1, ids, (x[:, 0] > 0).float()).backward()
        optimizer.step()
    return model.eval()


def task_parameters(model, k: int) -> list[tuple[str, torch.Tensor, int | None]]:
    """(name, parameter, row or None) of what only task k's rows may train: a whole parameter, or one row of STAR's
    domain-code table. PLE: below the last level the task experts also feed the shared gate, so they are left out."""
    if isinstance(model, MMoE):
        modules = {"gates": model.gates[k], "towers": model.towers[k]}
    elif isinstance(model, PLE):
        modules = {f"gates.{level}": gates["tasks"][k] for level, gates in enumerate(model.gates)}
        modules.update({"experts.last": model.experts[-1]["tasks"][k], "towers": model.towers[k]})
    else:
        modules = {"domain": model.domain[k - 1]}
    found = [(f"{prefix}.{name}", p, None) for prefix, module in modules.items()
             for name, p in module.named_parameters()]
    if isinstance(model, STAR):
        found.append((f"auxiliary.code.weight[{k}]", model.auxiliary["code"].weight, k))
    return found


def trained(entry) -> bool:
    _, p, row = entry
    grad = p.grad if p.grad is None or row is None else p.grad[row]
    return grad is not None and bool(grad.abs().sum() > 0)


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_scores(name):
    model = build(name).eval()
    x, ids = inputs(10)
    assert model(x, ids).shape == (10,)
    scores = model.score(x, ids)
    assert set(scores) == {"score"} and scores["score"].shape == (10,)
    assert ((scores["score"] > 0) & (scores["score"] < 1)).all()
    assert model.selection_score == "score"
    model.train()
    loss = model.training_loss(x, ids, torch.rand(10))
    assert loss.shape == () and torch.isfinite(loss)


@pytest.mark.parametrize("levels", [1, 3])
def test_ple_levels_and_cgc_structure(levels):
    model = build("ple", n_levels=levels, n_shared=2, n_specific=3)
    assert len(model.experts) == len(model.gates) == levels
    assert ["shared" in gates for gates in model.gates] == [True] * (levels - 1) + [False]  # last level: tasks only
    assert model.gates[-1]["tasks"][0].out_features == 2 + 3
    if levels > 1:
        assert model.gates[0]["shared"].out_features == 2 + (N_TASKS + 1) * 3
    assert model(*inputs(6)).shape == (6,)


@pytest.mark.parametrize("name", MODELS)
def test_param_groups_cover_every_parameter_once(name):
    model = build(name)
    rates = {group: 1e-3 * (i + 1) for i, group in enumerate(model.LR_GROUPS)}
    groups = model.param_groups(rates, weight_decay=0.01)
    ids = [id(p) for group in groups for p in group["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    assert {g["name"].split(".")[0] for g in groups} == set(model.LR_GROUPS)
    for group in groups:
        assert group["lr"] == rates[group["name"].split(".")[0]]
        assert all(p.ndim >= 2 for p in group["params"]) == (group["weight_decay"] == 0.01)
        assert all(p.ndim < 2 for p in group["params"]) == (group["weight_decay"] == 0.0)
    with pytest.raises(ValueError, match="missing"):
        model.param_groups({model.LR_GROUPS[0]: 1e-3})


@pytest.mark.parametrize("name", MODELS)
def test_seen_rows_train_only_their_tasks_and_the_shared_parts(name):
    model = build(name).train()
    x, _ = inputs(32)
    ids = torch.tensor([1, 2] * 16)
    model.training_loss(x, ids, torch.rand(32)).backward()

    own = {k: task_parameters(model, k) for k in range(1, N_TASKS + 1)}
    assert all(trained(entry) for k in (1, 2) for entry in own[k])
    untouched = [entry[0] for k in range(3, N_TASKS + 1) for entry in own[k] if trained(entry)]
    assert untouched == []
    specific = {id(p) for entries in own.values() for _, p, row in entries if row is None}
    shared = [(n, p, None) for n, p in model.named_parameters()
              if id(p) not in specific and n != "auxiliary.code.weight"]
    assert shared and [n for n, p, _ in shared if not trained((n, p, None))] == []


def test_ple_lower_level_task_experts_feed_the_shared_gate():
    """With two levels the paper's shared gate mixes every task's level-1 experts, so they learn from every row."""
    model = build("ple-2-levels").train()
    x, _ = inputs(32)
    model.training_loss(x, torch.tensor([1, 2] * 16), torch.rand(32)).backward()
    assert all(p.grad.abs().sum() > 0 for p in model.experts[0]["tasks"][4].parameters())


def reference_unseen_logits(model, x: torch.Tensor) -> torch.Tensor:
    """The documented id-0 rule, computed from the parameters: MMoE/PLE the general task's gate(s) and tower; STAR
    PN with the global running statistics and shared affine, the shared FCN alone, plus the auxiliary net over a
    zero domain code."""
    if isinstance(model, MMoE):
        experts = torch.stack([expert(x) for expert in model.experts], 1)
        weights = torch.softmax(model.gates[0](x), -1)
        return model.towers[0]((weights.unsqueeze(2) * experts).sum(1)).squeeze(1)
    if isinstance(model, PLE):
        assert len(model.experts) == 1  # CGC
        experts = [e(x) for e in model.experts[0]["shared"]] + [e(x) for e in model.experts[0]["tasks"][0]]
        weights = torch.softmax(model.gates[0]["tasks"][0](x), -1)
        return model.towers[0]((weights.unsqueeze(2) * torch.stack(experts, 1)).sum(1)).squeeze(1)
    h = (x - model.running_mean[0]) / torch.sqrt(model.running_var[0] + PN_EPS)
    h = h * model.shared.pn_scale + model.shared.pn_shift
    for layer, (w, b) in enumerate(zip(model.shared.weights, model.shared.biases, strict=True)):
        h = F.linear(h, w, b)
        h = torch.relu(h) if layer < len(model.shared.weights) - 1 else h
    aux_in = torch.cat([torch.zeros(len(x), model.config.aux_embedding), x], 1)
    return h.squeeze(1) + model.auxiliary["mlp"](aux_in).squeeze(1)


@pytest.mark.parametrize("name", ["mmoe", "ple", "star"])
def test_unseen_id_follows_the_documented_rule(name):
    model = warmed_up(name)
    x, ids = inputs(12, low=1)
    unseen = torch.zeros(12, dtype=torch.long)
    with torch.no_grad():
        logits = model(x, unseen)
        assert torch.isfinite(logits).all()
        assert torch.allclose(logits, reference_unseen_logits(model, x), atol=1e-5)
        if name != "star":
            assert torch.allclose(logits, model.paths(x, ids)[0], atol=1e-6)  # the general path of every row
        assert not torch.allclose(model(x, ids), logits, atol=1e-3)  # seen rows are not served the centre


@pytest.mark.parametrize("name", MODELS)
def test_unseen_scores_ignore_every_seen_tasks_parameters(name):
    model = warmed_up(name)
    x, ids = inputs(12, low=1)
    unseen = torch.zeros(12, dtype=torch.long)
    with torch.no_grad():
        before_unseen, before_seen = model(x, unseen), model(x, ids)
        for k in range(1, N_TASKS + 1):
            for _, p, row in task_parameters(model, k):
                target = p if row is None else p[row]
                target.add_(torch.randn_like(target))
        if isinstance(model, STAR):
            model.running_mean[1:] += 1.0
        assert torch.allclose(model(x, unseen), before_unseen, atol=1e-6)
        assert not torch.allclose(model(x, ids), before_seen, atol=1e-3)


@pytest.mark.parametrize("name", MODELS)
def test_overfits_64_rows(name):
    torch.manual_seed(0)
    x, ids = inputs(64, seed=1, low=1)
    y = (torch.rand(64) < 0.5).float()
    model = build(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def eval_loss():
        model.eval()
        with torch.no_grad():
            return model.training_loss(x, ids, y).item()

    model.train()
    model.training_loss(x, ids, y)  # STAR: running statistics of this batch before measuring the start
    initial = eval_loss()
    model.train()
    for _ in range(100):
        optimizer.zero_grad()
        model.training_loss(x, ids, y).backward()
        optimizer.step()
    assert eval_loss() < 0.3 * initial


@pytest.mark.parametrize("name", MODELS)
def test_block_size_is_ignored(name):
    model = warmed_up(name)
    x, ids = inputs(16)
    assert torch.equal(model.score(x, ids, block_size=1)["score"], model.score(x, ids, block_size=16)["score"])
    assert torch.equal(model.score(x, ids)["score"], model.score(x, ids, block_size=16)["score"])


@pytest.mark.parametrize("name", MODELS)
def test_batch_scores_equal_row_by_row(name):
    model = warmed_up(name)
    x, ids = inputs(16)
    with torch.no_grad():
        batch = model.score(x, ids)["score"]
        rows = torch.cat([model.score(x[i:i + 1], ids[i:i + 1])["score"] for i in range(16)])
    assert torch.allclose(batch, rows, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_traced_serving_model_scores_any_mix_of_ids(name):
    """The eval graph does not depend on which ids a batch holds: traced on one batch, it scores others as eager."""
    model = warmed_up(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        traced = torch.jit.trace(ServingModel(model), example_inputs(D, N_TASKS, rows=8))
    x, ids = inputs(12, seed=7)
    for other in (ids, torch.full((12,), 2), torch.zeros(12, dtype=torch.long)):
        assert torch.allclose(traced(x, other), model.score(x, other)["score"], atol=1e-6)


def test_star_partitioned_normalization_uses_each_domains_statistics():
    model = build("star", task_id_dropout=0.0).train()
    x = torch.randn(40, D)
    ids = torch.tensor([1] * 20 + [2] * 20)
    x[20:] = x[20:] * 3 + 5  # domain 2 is shifted and scaled
    model(x, ids)
    assert torch.allclose(model.running_mean[1], 0.1 * x[:20].mean(0), atol=1e-6)
    assert torch.allclose(model.running_mean[2], 0.1 * x[20:].mean(0), atol=1e-6)
    assert torch.allclose(model.running_mean[0], 0.1 * x.mean(0), atol=1e-6)
    assert torch.allclose(model.running_var[2], 0.9 + 0.1 * x[20:].var(0), atol=1e-5)
    assert torch.equal(model.running_mean[3:], torch.zeros(N_TASKS - 2, D))  # absent domains keep theirs
    # in training a domain's rows are normalised by their own batch: shifting the other domain changes nothing
    before = model(x, ids)[:20]
    moved = x.clone()
    moved[20:] += 10
    assert torch.allclose(model(moved, ids)[:20], before, atol=1e-6)


def test_star_task_id_dropout_routes_training_rows_through_the_centre():
    model = build("star", task_id_dropout=0.5).train()
    routed = model.route(torch.ones(10_000, dtype=torch.long))
    assert 0.45 < (routed == 0).float().mean().item() < 0.55
    assert set(routed.tolist()) == {0, 1}
    model.eval()
    assert torch.equal(model.route(torch.ones(100, dtype=torch.long)), torch.ones(100, dtype=torch.long))


CONFIGS = {  # config class, non-default values as JSON gives them, the tuple field
    "mmoe": (MMoEConfig, {"n_experts": 3, "expert_hidden": [16, 8], "tower_hidden": 4, "dropout": 0.1},
             "expert_hidden"),
    "ple": (PLEConfig, {"n_shared": 2, "n_specific": 2, "n_levels": 2, "expert_hidden": [16], "dropout": 0.2},
            "expert_hidden"),
    "star": (STARConfig, {"hidden": [16, 8, 4], "aux_embedding": 4, "aux_hidden": 8, "task_id_dropout": 0.2},
             "hidden"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_config_json_round_trip(name):
    config_cls, values, widths = CONFIGS[name]
    config = config_cls(d=12, n_tasks=9, **values)
    assert config != config_cls(d=12, n_tasks=9) and isinstance(getattr(config, widths), tuple)
    again = config_cls(**json.loads(json.dumps(dataclasses.asdict(config))))
    assert again == config and isinstance(getattr(again, widths), tuple)
    assert [f.name for f in dataclasses.fields(config_cls)][:2] == ["d", "n_tasks"]


@pytest.mark.parametrize("config_cls,bad,message", [
    (MMoEConfig, {"n_experts": 0}, "n_experts must be a positive integer"),
    (MMoEConfig, {"expert_hidden": (8, 0)}, "expert_hidden must be a non-empty"),
    (MMoEConfig, {"expert_hidden": ()}, "expert_hidden must be a non-empty"),
    (MMoEConfig, {"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    (PLEConfig, {"n_levels": 0}, "n_levels must be a positive integer"),
    (PLEConfig, {"n_shared": 1.5}, "n_shared must be a positive integer"),
    (PLEConfig, {"tower_hidden": -1}, "tower_hidden must be a positive integer"),
    (STARConfig, {"hidden": [32, "16"]}, "hidden must be a non-empty"),
    (STARConfig, {"task_id_dropout": -0.1}, "task_id_dropout must be in"),
    (STARConfig, {"n_tasks": 0}, "n_tasks must be a positive integer"),
])
def test_config_validation(config_cls, bad, message):
    with pytest.raises(ValueError, match=message):
        config_cls(**{"d": 12, "n_tasks": 9, **bad})


def test_registry_lists_the_baselines():
    known = kinds()
    for name, model_cls, config_cls in (("mmoe", MMoE, MMoEConfig), ("ple", PLE, PLEConfig),
                                        ("star", STAR, STARConfig)):
        kind = known[name]
        assert (kind.model_cls, kind.config_cls, kind.is_torch) == (model_cls, config_cls, True)
        assert kind.lr_groups == model_cls.LR_GROUPS and kind.selection_score == model_cls.selection_score
        assert kind.score_columns == ("score",)
        assert load_space(REPO / kind.search_space).model == name


@pytest.mark.parametrize("name", ["mmoe", "ple", "star"])
def test_search_space_samples_valid_configs(name):
    manifest = Manifest(features=[f"f{i}" for i in range(12)], scenarios=[f"s{i}" for i in range(9)], unseen=["u"],
                        mean=[0.0] * 12, std=[1.0] * 12)
    check_space(load_space(REPO / "search_spaces" / f"{name}.py"), manifest, samples=16)
