"""What produced a result: the code (git commit, dirty or not), Python and key package versions, the machine, and
the data's fingerprint. Recorded in every run's config.json and every study's study.json; reports print it."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "ray", "optuna", "lightgbm", "pyarrow", "pandas", "numpy")
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding platform/autotask


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> dict:
    """{"commit": sha or None (not a git checkout), "dirty": whether tracked files differ from the commit}."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return {"hostname": platform.node(), "platform": platform.platform(), "cpus": cpus, "gpu": gpu}


def provenance(data_fingerprint: dict | None = None) -> dict:
    """Everything above; `data_fingerprint` from autotask.data.fingerprint (its digest and the manifest's hash)."""
    record = {"code": code_version(), "python": platform.python_version(), "packages": package_versions(),
              "machine": machine()}
    if data_fingerprint is not None:
        record["data"] = {"digest": data_fingerprint["digest"],
                          "manifest": data_fingerprint["files"].get("manifest.json")}
    return record


def describe(record: dict) -> str:
    """One line for a report footer: 'commit 1a2b3c4 (dirty), Python 3.11.2, torch 2.13.0, ray 2.60.0, ..., 2 CPUs'."""
    if not record:
        return "provenance not recorded (a run written before provenance)"
    code = record.get("code", {})
    commit = (code.get("commit") or "unknown")[:10] + (" (dirty)" if code.get("dirty") else "")
    packages = ", ".join(f"{k} {v}" for k, v in record.get("packages", {}).items() if v)
    host = record.get("machine", {})
    where = f"{host.get('cpus')} CPUs" + (f", {host['gpu']}" if host.get("gpu") else "")
    data = record.get("data", {}).get("digest")
    return (f"commit {commit}, Python {record.get('python')}, {packages}; {where}"
            + (f"; data {data}" if data else ""))
