"""The LightGBM peer learns a simple signal from soft labels, handles unseen id 0, round-trips its file."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from autotask.models.lightgbm_peer import LightGBMParams, LightGBMPeer


def rows(n: int, seed: int, task_ids=None):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 4)).astype(np.float32)
    ids = rng.integers(1, 4, size=n) if task_ids is None else np.full(n, task_ids)
    p = 1 / (1 + np.exp(-(2.0 * features[:, 0] - features[:, 1] + 0.5 * (ids == 2))))
    return features, ids, p, (rng.uniform(size=n) < p).astype(float)


def test_learns_signal_and_round_trips(tmp_path):
    features, ids, soft, _ = rows(3000, seed=0)
    v_features, v_ids, _, v_labels = rows(800, seed=1)
    peer = LightGBMPeer(seed=0, settings=LightGBMParams(num_boost_round=200, early_stopping_rounds=20, num_threads=1))
    peer.fit(features, ids, soft, valid=(v_features, v_ids, v_labels))
    t_features, t_ids, _, t_labels = rows(1500, seed=2)
    scores = peer.predict_proba(t_features, t_ids)
    assert roc_auc_score(t_labels, scores) > 0.8

    u_features, u_ids, _, u_labels = rows(1500, seed=3, task_ids=0)  # unseen scenario
    unseen = peer.predict_proba(u_features, u_ids)
    assert np.all(np.isfinite(unseen)) and roc_auc_score(u_labels, unseen) > 0.75

    path = tmp_path / "lightgbm.txt"
    peer.save(path)
    assert path.read_text().startswith("tree")
    loaded = LightGBMPeer.load(path)
    assert np.allclose(loaded.predict_proba(t_features, t_ids), scores)


def test_a_lightgbm_run_config_with_an_unknown_parameter_is_refused_before_ray(sim_dataset):
    from autotask.config import RunConfig
    from autotask.data.manifest import load_manifest
    from autotask.runtime.run import check_run_config

    manifest = load_manifest(sim_dataset)
    for config, message in (({"num_leaf": 3}, "unknown LightGBM parameter"), ({"language_components": 0},
                                                                               "positive integer")):
        with pytest.raises(ValueError, match=message):
            check_run_config(RunConfig(data=str(sim_dataset), model="lightgbm", model_config=config), manifest)
