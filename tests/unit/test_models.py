"""AutoTask and the multi-task DNN: shapes, causality, task-id inputs, blocks, validation, overfitting."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

from autotask.models import AutoTask, AutoTaskConfig, MultiTaskDNN, MultiTaskDNNConfig, check_matches_data
from autotask.models.unseen import sharpened_profile

D, N_TASKS = 5, 3


def small(**overrides) -> AutoTask:
    torch.manual_seed(0)
    config = AutoTaskConfig(**{"d": D, "n_tasks": N_TASKS, "e1": 4, "block_size": 4, "n_head1": 2,
                               "n_head2": 4, **overrides})
    return AutoTask(config).eval()


def inputs(b: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, D, generator=g), torch.randint(1, N_TASKS + 1, (b,), generator=g)


@pytest.mark.parametrize("d,e1", [(12, 8), (5, 4), (1, 2)])
def test_e2_is_derived_from_d_and_e1(d, e1):
    config = AutoTaskConfig(d=d, n_tasks=2, e1=e1, n_head1=1, n_head2=1)
    assert config.e2 == d * e1
    assert "e2" not in dataclasses.asdict(config)
    with pytest.raises(TypeError):
        AutoTaskConfig(d=d, n_tasks=2, e2=7)


@pytest.mark.parametrize("mode,positions", [("none", D), ("number", D + 1), ("encoding", D + 1)])
def test_shapes(mode, positions):
    model = small(task_id_mode=mode)
    x, ids = inputs(10)
    assert model(x, ids).shape == (10,)
    assert model.facet1(x, ids).shape == (10, positions, 4)
    assert model.facet2(x, ids, 4).shape == (10, model.config.e2)


@pytest.mark.parametrize("fusion", ["concat", "sum"])
def test_causal_block_attention_hides_later_samples(fusion):
    model = small(fusion=fusion)
    x, ids = inputs(8)
    changed = x.clone()
    changed[2] += 3.0  # third sample of the first block (block size 4)
    before, after = model(x, ids), model(changed, ids)
    assert torch.allclose(before[:2], after[:2], atol=1e-6)
    assert torch.allclose(before[4:], after[4:], atol=1e-6)  # the other block
    assert not torch.allclose(before[2:4], after[2:4])


def test_full_block_attention_sees_later_samples():
    model = small(attention="full")
    x, ids = inputs(8)
    changed = x.clone()
    changed[2] += 3.0
    before, after = model(x, ids), model(changed, ids)
    assert not torch.allclose(before[:2], after[:2])
    assert torch.allclose(before[4:], after[4:], atol=1e-6)


@pytest.mark.parametrize("attention", ["causal", "full"])
def test_feature_attention_causality(attention):
    model = small(attention=attention)
    x, ids = inputs(6)
    changed = x.clone()
    changed[:, 3] += 3.0
    before, after = model.facet1(x, ids), model.facet1(changed, ids)
    assert not torch.allclose(before[:, 3:], after[:, 3:])
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6) == (attention == "causal")


@pytest.mark.parametrize("mode", ["none", "number", "encoding"])
def test_task_id_changes_the_logit_unless_mode_none(mode):
    model = small(task_id_mode=mode)
    x, ids = inputs(6)
    other = ids % N_TASKS + 1
    changed = not torch.allclose(model(x, ids), model(x, other), atol=1e-6)
    assert changed == (mode != "none")


@pytest.mark.parametrize("mode", ["number", "encoding"])
def test_one_hot_reaches_every_feature_token(mode):
    """Causally, feature positions cannot see the trailing id element: only the one-hot can change them."""
    model = small(task_id_mode=mode)
    x, ids = inputs(6)
    before, after = model.facet1(x, ids)[:, :D], model.facet1(x, ids % N_TASKS + 1)[:, :D]
    assert (not torch.allclose(before, after, atol=1e-6)) == (mode == "encoding")


@pytest.mark.parametrize("switch,width", [(True, D + 1 + N_TASKS), (False, D + 1)])
def test_facet2_task_encoding_switch(switch, width):
    model = small(facet2_task_encoding=switch)
    assert model.facet2.wte.in_features == width


def test_block_size_one_equals_rows_one_by_one():
    model = small()
    x, ids = inputs(7)
    one_by_one = torch.cat([model(x[i:i + 1], ids[i:i + 1]) for i in range(7)])
    assert torch.allclose(model(x, ids, block_size=1), one_by_one, atol=1e-6)


@pytest.mark.parametrize("attention", ["causal", "full"])
def test_short_last_block_is_its_own_block(attention):
    model = small(attention=attention)
    x, ids = inputs(10)  # blocks of 4, 4 and a remainder of 2
    pieces = torch.cat([model(x[:4], ids[:4]), model(x[4:8], ids[4:8]), model(x[8:], ids[8:])])
    assert torch.allclose(model(x, ids), pieces, atol=1e-6)


def test_block_size_above_the_position_table_is_refused():
    model = small()
    x, ids = inputs(8)
    with pytest.raises(ValueError, match="block_size"):
        model(x, ids, block_size=8)


def test_task_id_dropout_only_in_training():
    model = small(task_id_dropout=0.5, unseen="slot")
    ids = torch.ones(10_000, dtype=torch.long)
    assert torch.equal(model.drop_task_ids(ids), ids)  # eval mode
    model.train()
    dropped = (model.drop_task_ids(ids) == 0).float().mean().item()
    assert 0.45 < dropped < 0.55


@pytest.mark.parametrize("bad,message", [
    ({"n_head1": 3}, "n_head1=3 does not divide e1"),
    ({"n_head2": 7}, "n_head2=7 does not divide e2"),
    ({"task_id_mode": "onehot"}, "task_id_mode must be one of"),
    ({"fusion": "mean"}, "fusion must be one of"),
    ({"attention": "sparse"}, "attention must be one of"),
    ({"e1": 0}, "e1 must be a positive integer"),
    ({"block_size": -1}, "block_size must be a positive integer"),
    ({"dropout1": 1.0}, r"dropout1 must be in \[0, 1\)"),
    ({"task_id_dropout": -0.1}, "task_id_dropout must be in"),
    ({"unseen": "random"}, "unseen must be one of"),
    ({"unseen": "slot"}, "needs task_id_dropout > 0"),
    ({"task_id_dropout": 0.1}, "never reads"),
    ({"tokenizer": "quantile"}, "tokenizer must be one of"),
])
def test_config_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        AutoTaskConfig(**{"d": 12, "n_tasks": 9, **bad})


def test_dnn_config_validation_and_data_check():
    with pytest.raises(ValueError, match="hidden must be"):
        MultiTaskDNNConfig(d=3, n_tasks=2, hidden=(8, 0))
    assert MultiTaskDNNConfig(d=3, n_tasks=2, hidden=[8, 4]).hidden == (8, 4)
    check_matches_data(AutoTaskConfig(d=12, n_tasks=9), d=12, n_tasks=9)
    with pytest.raises(ValueError, match="d=12 but the data has d=11"):
        check_matches_data(AutoTaskConfig(d=12, n_tasks=9), d=11, n_tasks=9)


def models_under_test():
    torch.manual_seed(0)
    return [AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS)),
            AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, fusion="sum")),
            AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS, members=3)),
            MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS))]


@pytest.mark.parametrize("model", models_under_test(), ids=["autotask", "autotask-sum", "autotask-members", "dnn"])
def test_param_groups_cover_every_parameter_once(model):
    rates = dict(zip(model.LR_GROUPS, (1e-3, 2e-3, 3e-3), strict=False))
    groups = model.param_groups(rates, weight_decay=0.01)
    ids = [id(p) for group in groups for p in group["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    if isinstance(model, AutoTask):
        assert [(g["name"], g["lr"]) for g in groups] == [
            ("facet1", 1e-3), ("facet1.no_decay", 1e-3), ("facet2", 2e-3), ("facet2.no_decay", 2e-3),
            ("head", 3e-3), ("head.no_decay", 3e-3)]
    for group in groups:  # decay on weight matrices only: never on biases or LayerNorm parameters
        assert all(p.ndim >= 2 for p in group["params"]) == (group["weight_decay"] == 0.01)
        assert group["weight_decay"] in (0.0, 0.01)
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0.0 for p in g["params"]}
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert all(id(m.weight) in no_decay and id(m.bias) in no_decay for m in norms)


@pytest.mark.parametrize("kind", ["autotask", "dnn"])
def test_overfits_64_rows(kind):
    torch.manual_seed(0)
    x, ids = inputs(64, seed=1)
    y = (torch.rand(64) < 0.5).float()
    if kind == "autotask":
        model = AutoTask(AutoTaskConfig(d=D, n_tasks=N_TASKS))
    else:
        model = MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(400):
        optimizer.zero_grad()
        loss = model.training_loss(x, ids, y)
        loss.backward()
        optimizer.step()
    if kind == "autotask":  # the score's own loss (the gate's cross-entropy on random ids cannot reach 0)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, ids), y)
    assert loss.item() < 0.05


def test_members_are_independent_copies_averaged_when_scoring_and_trained_on_their_own_losses():
    model = small(members=3)
    x, ids = inputs(16)
    y = (torch.rand(16) < 0.5).float()
    members = model._member_logits(x, ids, 4)
    assert len(members) == 3 and not torch.allclose(members[0], members[1])  # initialised independently
    assert torch.allclose(model(x, ids), torch.stack(members).mean(dim=0))
    assert set(model.state_dict()) >= {"facet1.values.linear.weight", "more_members.1.fusion.head.2.bias"}
    model.train()
    expected = sum(torch.nn.functional.binary_cross_entropy_with_logits(m, y) for m in members) / 3
    assert torch.allclose(model.training_loss(x, ids, y) - model.gate_loss(x, ids), expected)
    one = small()  # one member: the paper's model, with its weights' keys unchanged
    assert not any(key.startswith("more_members") for key in one.state_dict())
    with pytest.raises(ValueError, match="members must be a positive integer"):
        small(members=0)


def test_task_towers_start_at_zero_leave_id_zero_alone_and_train_only_their_own_scenario():
    model, plain = small(task_tower=4), small()
    x, ids = inputs(16)
    assert torch.allclose(model(x, ids), plain(x, ids))  # output layers start at zero: the shared head alone
    torch.nn.init.normal_(model.fusion.towers.w2)
    unseen = torch.zeros_like(ids)
    assert torch.allclose(model._logits(x, unseen, 4), plain._logits(x, unseen, 4))  # id 0 has no tower
    model.train()
    model.training_loss(x, torch.full_like(ids, 2), (torch.rand(16) < 0.5).float()).backward()
    grads = model.fusion.towers.w1.grad.abs().sum(dim=(1, 2))
    assert grads[1] > 0 and grads[0] == 0 and grads[2] == 0
    with pytest.raises(ValueError, match="task_tower must be a non-negative integer"):
        small(task_tower=-1)


def test_dnn_branches():
    torch.manual_seed(0)
    model = MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS)).eval()
    x, ids = inputs(8)
    ids[:3] = 0
    general, task = model(x, ids)
    assert torch.equal(task[:3], general[:3])
    assert not torch.allclose(task[3:], general[3:])
    scores = model.score(x, ids)
    assert set(scores) == {"score", "score_task"}
    assert torch.allclose(scores["score"], torch.sigmoid(general))


def test_default_model_size_and_single_row_latency():
    """Prints the default AutoTask's parameter count and single-row CPU latency (no assertion on time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = AutoTask(AutoTaskConfig(d=12, n_tasks=9)).eval()
        x, ids = torch.randn(1, 12), torch.tensor([3])
        times = []
        with torch.inference_mode():
            for _ in range(20):
                model(x, ids)
            for _ in range(300):
                started = time.perf_counter()
                model(x, ids)
                times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    n_params = sum(p.numel() for p in model.parameters())
    p50, p99 = np.percentile(times, [50, 99]) * 1e3
    print(f"\ndefault AutoTask(d=12, n_tasks=9): {n_params:,} parameters; single-row CPU latency "
          f"p50 {p50:.3f} ms, p99 {p99:.3f} ms (1 thread)")
    assert n_params > 0


@pytest.mark.parametrize("unseen", ["mixture", "gated", "zero"])
def test_unseen_id_is_defined_by_construction(unseen):
    """No one-hot column or embedding reads id 0 unless it is trained (slot + task-id dropout): every parameter that
    an unseen row's score depends on receives gradient from seen rows."""
    model = small(unseen=unseen).train()
    x, ids = inputs(32)
    targets = torch.rand(32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):  # the task towers' output layer starts at zero, so their hidden layer learns from step 2
        optimizer.zero_grad()
        model.training_loss(x, ids, targets).backward()
        optimizer.step()
    assert model.facet1.task_code.in_features == N_TASKS and model.facet2.wte.in_features == D + 1 + N_TASKS
    untrained = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert untrained == []


def test_slot_rule_trains_id_zero_through_task_id_dropout():
    model = small(unseen="slot", task_id_dropout=0.5).train()
    x, ids = inputs(64)
    model.training_loss(x, ids, torch.rand(64)).backward()
    assert model.facet1.task_code.weight.grad[:, 0].abs().sum() > 0  # column 0: id 0


def test_mixture_scores_an_unseen_row_as_the_mean_over_seen_ids():
    model = small(unseen="mixture")
    x, _ = inputs(6)
    per_id = torch.stack([torch.sigmoid(model(x, torch.full((6,), k), block_size=1)) for k in range(1, N_TASKS + 1)])
    unseen = torch.sigmoid(model(x, torch.zeros(6, dtype=torch.long), block_size=1))
    assert torch.allclose(unseen, per_id.mean(0), atol=1e-5)
    assert torch.allclose(model.seen_task_probabilities(x), per_id.t(), atol=1e-6)


def test_gated_mixture_weights_seen_ids_by_the_gate_and_leaves_seen_rows_alone():
    model = small(unseen="gated")
    x, ids = inputs(6)
    weights = torch.softmax(model.gate(x), dim=-1)
    mixed = torch.sigmoid(model(x, torch.zeros(6, dtype=torch.long), block_size=1))
    assert torch.allclose(mixed, (model.seen_task_probabilities(x) * weights).sum(1), atol=1e-5)
    mixed_batch = torch.where(torch.arange(6) % 2 == 0, ids, 0)  # seen and unseen rows in one batch
    seen_rows = mixed_batch > 0
    assert torch.allclose(model(x, mixed_batch, block_size=1)[seen_rows], model(x, ids, block_size=1)[seen_rows],
                          atol=1e-6)


@pytest.mark.parametrize("mode", ["encoding", "number", "none"])
def test_score_paper_reads_id_zero_as_the_paper_does_and_score_stays_the_served_rule(mode):
    """score_paper: unseen rows through id 0 itself (the `zero` rule on the same weights; no id under mode none);
    seen rows and non-mixing models score the same in both columns."""
    model = small(unseen="gated", task_id_mode=mode).eval()
    x, ids = inputs(6)
    batch = torch.where(torch.arange(6) % 2 == 0, ids, 0)
    scores = model.score(x, batch, block_size=1)
    model.config.unseen = "zero"  # the same weights under the paper's rule (has_gate is unchanged)
    paper = torch.sigmoid(model(x, batch, block_size=1))
    assert torch.allclose(scores["score_paper"], paper, atol=1e-6)
    seen = batch > 0
    assert torch.equal(scores["score_paper"][seen], scores["score"][seen])
    assert torch.equal(scores["score_paper"], scores["score"]) == (mode == "none")


@pytest.mark.parametrize("tokenizer", ["shared", "per-feature", "periodic", "piecewise"])
def test_tokenizers_give_one_token_per_feature_and_learn(tokenizer):
    model = small(tokenizer=tokenizer)
    x, ids = inputs(8)
    assert model.facet1(x, ids).shape == (8, D + 1, 4)
    model.train()
    model.training_loss(x, ids, torch.rand(8)).backward()
    assert all(p.grad is not None for p in model.facet1.values.parameters())
    shifted = x.clone()
    shifted[:, 0] += 1.0  # changing one feature changes that feature's token
    model.eval()
    assert not torch.allclose(model.facet1(x, ids)[:, 0], model.facet1(shifted, ids)[:, 0])


def test_scenario_profile_weights_every_unseen_row_alike_and_leaves_seen_scenarios_alone():
    model = small(unseen="gated", profile="gate")
    x, ids = inputs(12)
    profile = model.scenario_profile(x)
    gate_mean = torch.softmax(model.gate(x), dim=-1).mean(0)
    assert torch.allclose(profile, gate_mean ** 2 / (gate_mean ** 2).sum(), atol=1e-6)
    unseen = torch.zeros(12, dtype=torch.long)
    context = model.in_context_scores(x, unseen, block_size=1)["score_context"]
    assert torch.allclose(context, model.seen_task_probabilities(x) @ profile, atol=1e-5)
    one_scenario = torch.full((12,), 2)
    assert torch.allclose(model.in_context_scores(x, one_scenario, block_size=1)["score_context"],
                          model.score(x, one_scenario, block_size=1)["score"], atol=1e-6)


LANGUAGE = {"language": "embeddings", "language_width": 2 * 16}


def test_language_tokens_follow_the_feature_and_task_tokens_and_learn():
    config = AutoTaskConfig(d=5, n_tasks=3, language_tokens=2, **LANGUAGE)
    assert config.positions1 == 5 + 1 + 2 * 2 + 1 and config.e2 == 5 * config.e1  # d counts features only
    model = AutoTask(config)
    features = torch.randn(12, 5 + 32)
    ids = torch.randint(1, 4, (12,))
    assert model.facet1(features, ids).shape == (12, config.positions1, config.e1)
    changed = features.clone()
    changed[:, 5:21] = torch.randn(12, 16)  # another query embedding
    assert not torch.allclose(model(features, ids), model(changed, ids))
    model.training_loss(features, ids, torch.rand(12)).backward()
    language = [model.facet1.language.query.weight, model.facet1.language.interaction.weight]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in language)


def test_language_dropout_zeroes_whole_rows_of_language_inputs_in_training_only():
    model = AutoTask(AutoTaskConfig(d=5, n_tasks=3, language_dropout=0.5, **LANGUAGE))
    features = torch.randn(400, 5 + 32)
    assert torch.equal(model.eval().drop_language(features), features)
    dropped = model.train().drop_language(features)
    zeroed = (dropped[:, 5:] == 0).all(dim=1)
    assert torch.equal(dropped[:, :5], features[:, :5]) and 120 < int(zeroed.sum()) < 280
    assert torch.equal(dropped[~zeroed], features[~zeroed])


@pytest.mark.parametrize("bad, message", [
    ({"language": "text"}, "language must be one of"),
    ({"language_dropout": 1.0}, "language_dropout must be in"),
    ({"language": "embeddings", "language_width": 0}, "language_width"),
    ({"language": "embeddings", "language_width": 33}, "multiple of 2"),
    ({"language_width": 8}, "language='none'"),
])
def test_language_config_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        AutoTaskConfig(d=4, n_tasks=2, **bad)


def test_dnn_concatenates_the_language_inputs():
    model = MultiTaskDNN(MultiTaskDNNConfig(d=4, n_tasks=2, **LANGUAGE))
    assert model.shared[0].in_features == 4 + 32
    general, task = model(torch.randn(3, 36), torch.tensor([0, 1, 2]))
    assert general.shape == task.shape == (3,)


def test_moment_profile_recovers_a_mixture_of_seen_scenarios_and_old_weights_fall_back_to_the_gate(monkeypatch):
    """`moments`: a sample drawn as 0.7 of seen id 1 and 0.3 of id 3 gets those weights without the ridge, and close
    to them with it (pulled toward the gate's profile); the validation proxy's excluded id gets none; weights saved
    without seen means load with them unset (the gate's profile)."""
    import autotask.models.unseen as unseen
    model = small(unseen="gated", profile="moments")
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(N_TASKS, D, generator=g)
    ids = torch.arange(1, N_TASKS + 1).repeat_interleave(200)
    model.fit_seen_means(centres[ids - 1] + 0.1 * torch.randn(len(ids), D, generator=g), ids)
    assert torch.equal(model.seen_counts, torch.full((N_TASKS,), 200.0))
    sample = torch.cat([centres[0] + 0.1 * torch.randn(700, D, generator=g),
                        centres[2] + 0.1 * torch.randn(300, D, generator=g)])
    profile = model.scenario_profile(sample).detach()
    assert abs(float(profile.sum()) - 1) < 1e-6 and bool((profile >= 0).all())
    assert torch.allclose(profile, torch.tensor([0.7, 0.0, 0.3]), atol=0.1)
    monkeypatch.setattr(unseen, "MOMENTS_RIDGE", 0.0)
    assert torch.allclose(model.scenario_profile(sample).detach(), torch.tensor([0.7, 0.0, 0.3]), atol=0.03)
    assert float(model.scenario_profile(sample, exclude=1)[0]) == 0.0
    from autotask.training.gate_calibration import fit_gate_calibration
    fit_gate_calibration(model, centres[ids - 1] + 0.1 * torch.randn(len(ids), D, generator=g), ids - 1)
    em = model.scenario_profile(sample, exclude=2, estimator="em")
    assert float(em[1]) == 0.0 and abs(float(em.sum()) - 1) < 1e-5
    em, gate_only = (model.scenario_profile(sample, estimator=name) for name in ("em", "gate"))
    assert not torch.allclose(em, gate_only, atol=1e-3)  # the recalibrated EM half moves it
    with pytest.raises(ValueError, match="profile estimator"):
        model.scenario_profile(sample, estimator="moment")
    legacy = {k: v for k, v in model.state_dict().items() if not k.startswith(("seen_", "gate_calibration"))}
    old = small(unseen="gated", profile="moments")
    old.load_state_dict(legacy)
    gate = torch.softmax(old.gate(sample), -1).mean(0)
    assert torch.allclose(old.scenario_profile(sample), sharpened_profile(gate), atol=1e-6)
    assert torch.allclose(old.scenario_profile(sample, estimator="em"), sharpened_profile(gate), atol=1e-6)
    model.config.profile = "gate"
    assert torch.allclose(model.scenario_profile(sample), sharpened_profile(gate), atol=1e-6)


def test_em_proportions_recover_a_new_scenarios_mix_from_exact_posteriors():
    """Three seen ids, 1-D Gaussians at -2, 0, 2, trained at frequencies 0.5 / 0.3 / 0.2: a sample drawn 0.1 / 0.2 /
    0.7 gets about those proportions, not the mean posterior (the first EM step, still pulled to the training
    frequencies); an id left out gets none."""
    from autotask.models.unseen import em_proportions
    g = torch.Generator().manual_seed(0)
    centres, counts = torch.tensor([-2.0, 0.0, 2.0]), torch.tensor([500.0, 300.0, 200.0])
    ids = torch.multinomial(torch.tensor([0.1, 0.2, 0.7]), 4000, replacement=True, generator=g)
    x = centres[ids] + torch.randn(4000, generator=g)
    joint = (counts / counts.sum()) * torch.exp(-0.5 * (x.unsqueeze(1) - centres) ** 2)
    posteriors = joint / joint.sum(1, keepdim=True)
    everyone = torch.ones(3, dtype=torch.bool)
    proportions = em_proportions(posteriors, counts, everyone)
    assert abs(float(proportions.sum()) - 1) < 1e-6
    assert torch.allclose(proportions, torch.tensor([0.1, 0.2, 0.7]), atol=0.04)
    assert float((posteriors.mean(0) - torch.tensor([0.1, 0.2, 0.7])).abs().max()) > 0.08
    without_first = em_proportions(posteriors, counts, torch.tensor([False, True, True]))
    assert float(without_first[0]) == 0.0 and abs(float(without_first.sum()) - 1) < 1e-6


def test_seen_inputs_folded_per_epoch_equal_the_means_of_every_row_seen():
    """The loop's accumulator (training/seen_inputs.py): an epoch with no rows changes nothing; two epochs of
    minibatches, folded at each end, give the counts and means of all their rows taken at once (id 0 rows ignored)."""
    from autotask.training.seen_inputs import SeenInputs
    model = small(unseen="gated")
    accumulator = SeenInputs.of(model)
    assert SeenInputs.of(MultiTaskDNN(MultiTaskDNNConfig(d=D, n_tasks=N_TASKS))) is None
    accumulator.fold(distributed=False)
    assert not model.seen_counts.any() and not model.seen_means.any()
    g = torch.Generator().manual_seed(0)
    epochs = [(torch.randn(50, D, generator=g), torch.randint(0, N_TASKS + 1, (50,), generator=g)) for _ in range(2)]
    for features, ids in epochs:
        for rows in torch.arange(50).split(16):
            accumulator.observe(features[rows], ids[rows])
        accumulator.fold(distributed=False)
    reference = small(unseen="gated")
    reference.fit_seen_means(torch.cat([f for f, _ in epochs]), torch.cat([i for _, i in epochs]))
    assert torch.equal(model.seen_counts, reference.seen_counts) and model.seen_counts.sum() > 0
    assert torch.allclose(model.seen_means, reference.seen_means, atol=1e-6)
