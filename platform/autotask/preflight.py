"""Checks every runner makes before Ray starts or a file is written: output paths, the cluster address, resources.

Each raises `InputError` (a ValueError, reported by `autotask.cli` with exit status 2) naming the flag at fault.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autotask.errors import InputError

CONNECT_TIMEOUT_S = 3.0
RESOURCE_WAIT_ENV = "AUTOTASK_RESOURCE_WAIT_S"  # how long to wait for a remote cluster to grow (default 60 s)
RAY_CLIENT_PREFIX = "ray://"
SIMULATED_ROW_BYTES = 200  # disk per simulated row, with room: a built row takes about 63 bytes of Parquet


def check_output_dir(out: str | Path, flag: str = "--out", data: str | None = None) -> None:
    """`out` must be a folder (or not exist yet) outside the dataset `data`."""
    if "://" in str(out):  # a URI (s3://...): created by its filesystem, nothing to check locally
        return
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {out}: this is a file; give a folder (it is created when missing)")
    _check_writable(path, flag, out)
    if data and "://" not in data:
        data_path = Path(data).expanduser().resolve()
        target = path.resolve()
        if target == data_path or data_path in target.parents:
            raise InputError(f"{flag} {out}: inside the dataset --data {data}; results would be read as data files")


def check_output_file(out: str | Path, flag: str = "--out") -> None:
    """`out` must name a file (not a folder) in a place this process can write."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise InputError(f"{flag} {out}: a folder; give a file name")
    _check_writable(path.parent if str(path.parent) else Path("."), flag, out)


def nearest_existing(path: Path) -> Path:
    """`path` itself when it exists, else its nearest existing parent (where the missing folders would be made)."""
    return next(parent for parent in [path, *path.absolute().parents] if parent.exists())


def write_problem(folder: Path) -> str | None:
    """Why a file cannot be created in `folder` (None: it can), found by a probe, not os.access: root passes access
    checks on read-only mounts such as /proc."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def _check_writable(path: Path, flag: str, out) -> None:
    """The nearest existing folder at or above `path` must be writable (the rest is created)."""
    parent = nearest_existing(path)
    problem = write_problem(parent)
    if problem:
        raise InputError(f"{flag} {out}: {parent} is not a writable folder ({problem})")


def ray_address(address: str | None) -> str | None:
    """The cluster a runner joins: --address, else RAY_ADDRESS, else None (a local Ray)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_address(address: str | None, flag: str = "--address") -> None:
    """Refuse within seconds an address where no Ray cluster answers (Ray itself retries for minutes)."""
    flag = flag if address else "RAY_ADDRESS"
    address = ray_address(address)
    if address in (None, "auto", "local"):
        return
    host_port = address.removeprefix(RAY_CLIENT_PREFIX).split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"{flag} {address}: expected HOST:PORT (e.g. 10.0.0.5:6379) or ray://HOST:10001")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{flag} {address}: no Ray cluster answers there ({reason}); start one with "
                         "`ray start --head` or `ray up ray_cluster.yaml`, or leave --address out for a local Ray") \
            from exc


@dataclass(frozen=True)
class Resources:
    """What one run (or trial) needs at once, and the flags that set it (for the message)."""

    cpus: float
    gpus: int
    asked_by: str

    def shortfall(self, cpus: float, gpus: float, where: str = "the cluster") -> str | None:
        if self.cpus > cpus + 1e-9:
            return f"{self.cpus:g} CPUs ({self.asked_by}) but {where} has {cpus:g}"
        if self.gpus > gpus:
            return f"{self.gpus} GPUs ({self.asked_by}) but {where} has {gpus:g}"
        return None


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The container's CPU quota in CPUs (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), or
    None when there is none: a container limited to 2 CPUs on a 32-core host may use 2, as Ray counts them."""
    try:
        if (root / "cpu.max").exists():
            quota, *period = (root / "cpu.max").read_text().split()
            return None if quota == "max" else int(quota) / int(period[0] if period else 100_000)
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        return None if quota <= 0 else quota / int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def local_capacity() -> tuple[float, int]:
    """CPUs this process may use and GPUs torch sees: what a local Ray started here would have (its affinity, capped
    by a container's CPU quota, whole CPUs)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    cpus = max(1, min(cpus, int(limit))) if limit is not None else cpus
    try:
        import torch

        gpus = torch.cuda.device_count()
    except ImportError:  # pragma: no cover - torch is a dependency
        gpus = 0
    return float(cpus), gpus


def check_local_resources(needed: Resources, address: str | None) -> None:
    """Before Ray starts: a local Ray that cannot ever fit the run is refused (it would wait forever)."""
    if ray_address(address):
        return
    import ray

    if ray.is_initialized():  # a session already running (tests, notebooks): its own totals count
        return
    problem = needed.shortfall(*local_capacity(), where="this machine")
    if problem:
        raise InputError(f"the run asks for {problem}; lower --workers or --cpus-per-worker")


def wait_for_cluster(needed: Resources, console=None, wait_s: float | None = None) -> None:
    """After joining a cluster: wait (visibly, up to AUTOTASK_RESOURCE_WAIT_S) for it to fit the run, else refuse."""
    import ray

    wait_s = float(os.environ.get(RESOURCE_WAIT_ENV, 60)) if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        total = ray.cluster_resources()
        problem = needed.shortfall(total.get("CPU", 0.0), total.get("GPU", 0.0))
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise InputError(f"the run asks for {problem} (waited {wait_s:g} s for nodes to join; "
                             f"{RESOURCE_WAIT_ENV} sets how long); lower --workers or --cpus-per-worker")
        if not announced:
            message = f"waiting up to {wait_s:g} s for the cluster to grow: the run asks for {problem}"
            if console is not None:
                console.print(message)
            else:
                print(message, file=sys.stderr, flush=True)
            announced = True
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def check_room(needed_bytes: float, folder: str | Path, flag: str) -> None:
    """Refuse a size that cannot fit the disk under `folder` (a huge --rows), before minutes of work."""
    if "://" in str(folder):
        return
    where = nearest_existing(Path(folder).expanduser())
    free = shutil.disk_usage(where).free
    if needed_bytes > free:
        raise InputError(f"{flag}: needs about {needed_bytes / 1e9:,.1f} GB, but {where} has {free / 1e9:,.1f} GB "
                         "free")
