"""Peak memory while a run trains, read from /proc and Ray's object store: the driver, every Ray worker process
(Train workers, Ray Data tasks and actors, grouped by their `ray::` name) and the object store's plasma usage."""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from pathlib import Path

import ray

PLASMA = re.compile(r"Plasma memory usage (\d+) MiB")
MIB = 2**20


def rss_bytes(pid: int | str) -> int:
    """Resident memory of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def ray_processes() -> dict[int, str]:
    """pid -> `ray::` process name (the Ray worker processes of this machine)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if command.startswith("ray::"):
                found[int(entry.name)] = command.split()[0]
    return found


def plasma_bytes() -> int:
    """Bytes in Ray's object store over the cluster, as its memory summary reports them."""
    from ray._private.internal_api import memory_summary

    found = PLASMA.search(memory_summary(stats_only=True))
    return int(found.group(1)) * MIB if found else 0


class MemorySampler:
    """Samples every `interval` seconds in a thread; `peaks()` gives the maxima in MiB."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.driver = 0
        self.workers_total = 0
        self.by_name: dict[str, int] = defaultdict(int)
        self.plasma = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.driver = max(self.driver, rss_bytes("self"))
            sizes = {pid: (name, rss_bytes(pid)) for pid, name in ray_processes().items()}
            self.workers_total = max(self.workers_total, sum(size for _, size in sizes.values()))
            for name, size in sizes.values():
                self.by_name[name] = max(self.by_name[name], size)
            if ray.is_initialized():
                self.plasma = max(self.plasma, plasma_bytes())
            time.sleep(self.interval)

    def peaks(self) -> dict[str, float]:
        largest = sorted(self.by_name.items(), key=lambda item: -item[1])[:4]
        return {"driver_mib": self.driver / MIB, "ray_workers_total_mib": self.workers_total / MIB,
                "object_store_mib": self.plasma / MIB,
                "largest_workers": {name: round(size / MIB) for name, size in largest}}
