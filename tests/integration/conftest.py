"""Shared fixtures: one small simulated dataset per session and one Ray session shared by the Ray tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A 6,000-row simulated dataset (every scenario in every split it belongs to)."""
    from autotask.data.build import build_simulated
    from autotask.data.simulator import SimulatorConfig

    out = tmp_path_factory.mktemp("data") / "tiny"
    build_simulated(SimulatorConfig(rows=6_000, seed=3), out).raise_if_invalid()
    return out


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs, started once for every test that needs it (a fit costs ~15 s of overhead)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
