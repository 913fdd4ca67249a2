"""The `ray up` configs pass Ray's own validation offline, and a broken copy of them fails it."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {"aws": ROOT / "ray_cluster.yaml", "local": ROOT / "cluster" / "local.yaml"}


def load(name: str) -> dict:
    return yaml.safe_load(CONFIGS[name].read_text())


def check(raw: dict) -> dict:
    """What `ray up` does before launching anything: fill defaults, then validate against ray-schema.json."""
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)
    return config


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_is_valid(name):
    config = check(load(name))
    assert config["provider"]["type"] == name
    start = " ".join(config["head_start_ray_commands"])
    assert "RAY_AUTH_MODE=token" in start, "token authentication must stay on"
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert "~/autotask" in config["file_mounts"]
    setup = " ".join(config["setup_commands"] + config.get("head_setup_commands", []))
    assert "-e ~/autotask" in setup
    assert "export AUTOTASK_CLUSTER=1 PATH=$HOME/venv/bin:$PATH RAY_AUTH_MODE=token' >> ~/.bashrc" in setup


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_commands_are_complete_shell_lines(name):
    """A ` #` inside a YAML plain scalar starts a comment and silently cuts the command (seen here)."""
    config = check(load(name))
    commands = [c for key, value in config.items() if key.endswith("_commands") for c in value]
    commands += [c for t in config["available_node_types"].values() for c in t.get("worker_setup_commands", [])]
    for command in commands:
        shlex.split(command)  # raises on an unbalanced quote


def test_aws_node_types():
    config = check(load("aws"))
    types = config["available_node_types"]
    head = config["head_node_type"]
    assert types[head]["max_workers"] == 0
    gpu = types["worker.gpu"]
    assert gpu["min_workers"] == 0 and gpu["max_workers"] >= 1
    assert gpu["node_config"]["InstanceType"].startswith(("g", "p"))
    assert "worker.cpu" in types
    # CPU nodes take the CPU build of torch first; GPU nodes their own (CUDA) torch, then the project.
    assert any("torch==2.13.0" in c and "whl/cpu" in c for c in config["head_setup_commands"])
    assert any("torch==2.13.0" in c and "whl/cpu" not in c for c in gpu["worker_setup_commands"])
    assert "-e ~/autotask" in gpu["worker_setup_commands"][-1]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_typo_key_fails(name):
    raw = load(name)
    raw["setup_comands"] = raw.pop("setup_commands")
    with pytest.raises(jsonschema.ValidationError, match="setup_comands"):
        check(raw)


def test_typo_key_in_node_type_fails():
    raw = load("aws")
    raw["available_node_types"]["worker.gpu"]["min_worker"] = 0
    with pytest.raises(jsonschema.ValidationError, match="min_worker"):
        check(raw)


def test_fractional_cpu_fails():
    raw = load("aws")
    raw["available_node_types"]["worker.cpu"]["resources"] = {"CPU": 3.5}
    with pytest.raises(jsonschema.ValidationError, match="3.5"):
        check(raw)


def test_local_without_head_ip_fails():
    raw = load("local")
    del raw["provider"]["head_ip"]
    with pytest.raises(click.ClickException, match="head_ip"):  # Ray's cli_logger.abort
        check(raw)
