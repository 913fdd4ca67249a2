"""Shared fixtures: one small simulated dataset built once per session, and ways to corrupt copies of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DATA = REPO_ROOT / "runners" / "build_data.py"
SMALL_ROWS = 20_000


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def sim_dataset(tmp_path_factory) -> Path:
    """A valid simulated dataset (20,000 rows, seed 0, one part file). Read-only: copy it before changing it."""
    from autotask.data.build import build_simulated
    from autotask.data.simulator import SimulatorConfig

    out = tmp_path_factory.mktemp("sim") / "sim20k"
    report = build_simulated(SimulatorConfig(rows=SMALL_ROWS, seed=0), out)
    assert report.ok, report.errors
    return out


@pytest.fixture(scope="session")
def sim_frame(sim_dataset) -> pd.DataFrame:
    """The session dataset as one frame (treat as read-only; `.copy()` before changing it)."""
    return pd.read_parquet(sim_part(sim_dataset))


def sim_part(dataset: Path) -> Path:
    """The single part file of a one-chunk simulated dataset."""
    parts = sorted((dataset / "data").glob("*.parquet"))
    assert len(parts) == 1, parts
    return parts[0]


class DatasetCopy:
    """A private copy of the session dataset whose Parquet file and manifest a test may rewrite."""

    def __init__(self, source: Path, path: Path):
        shutil.copytree(source, path)
        self.path = path
        self.part = sim_part(path)
        self.manifest_path = path / "manifest.json"

    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(self.part)

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.part, index=False)

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, raw: dict) -> None:
        self.manifest_path.write_text(json.dumps(raw, indent=2))


@pytest.fixture
def dataset_copy(sim_dataset, tmp_path) -> DatasetCopy:
    return DatasetCopy(sim_dataset, tmp_path / "copy")


@pytest.fixture(scope="session")
def run_build_data():
    """Run `python runners/build_data.py ARGS...` from the repository root; returns the CompletedProcess."""

    def run(*args, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(BUILD_DATA), *map(str, args)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_env(),
        )

    return run


def _env() -> dict:
    import os

    env = dict(os.environ)
    env["COLUMNS"] = "200"
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


def rows_in(message: str) -> list[int]:
    """Row numbers listed in a contract message ('... at rows 3, 17, 42 (+12 more)')."""
    found = re.search(r"\brows? (\d+(?:, \d+)*)", message)
    assert found, f"no row numbers in: {message}"
    return [int(r) for r in found.group(1).split(", ")]


def find_message(messages: list[str], *needles: str) -> str:
    """The one message holding every needle (file path, quoted column, ...); fails listing all messages."""
    hits = [m for m in messages if all(n in m for n in needles)]
    assert hits, f"no message with {needles} among:\n" + "\n".join(messages)
    return hits[0]


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A 6,000-row simulated dataset for training runs (every scenario in every split it belongs to)."""
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
