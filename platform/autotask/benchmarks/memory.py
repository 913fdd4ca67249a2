"""Peak memory while a run trains, read from /proc: the driver's peak RSS, the private (anonymous) memory of every
Ray worker process (Train workers, Ray Data tasks and actors, grouped by their `ray::` name), and the growth of the
machine's shared memory, where Ray's object store lives (/dev/shm). Shared pages are counted once, in the last."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

MIB = 2**20


def status_kib(pid: int | str, field: str) -> int:
    """One `/proc/PID/status` field in KiB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def shared_memory_kib() -> int:
    """The machine's shared memory in use (`Shmem` in /proc/meminfo): tmpfs and /dev/shm, so Ray's object store."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1])
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
                found[int(entry.name)] = command.split()[0].split(".")[0]  # ray::RayTrainWorker.run_train_fn -> actor
    return found


class MemorySampler:
    """Samples every `interval` seconds in a thread while in its `with` block; `peaks()` gives maxima in MiB."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.workers_total = 0
        self.by_name: dict[str, int] = defaultdict(int)
        self.shared_growth = 0
        self.samples = 0
        self._baseline = shared_memory_kib()
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
            sizes = [(name, status_kib(pid, "RssAnon")) for pid, name in ray_processes().items()]
            self.workers_total = max(self.workers_total, sum(size for _, size in sizes))
            for name, size in sizes:
                self.by_name[name] = max(self.by_name[name], size)
            self.shared_growth = max(self.shared_growth, shared_memory_kib() - self._baseline)
            self.samples += 1
            self._stop.wait(self.interval)

    def peaks(self) -> dict:
        largest = sorted(self.by_name.items(), key=lambda item: -item[1])[:4]
        return {"driver_mib": status_kib("self", "VmHWM") / 1024, "ray_workers_private_mib": self.workers_total / 1024,
                "object_store_mib": self.shared_growth / 1024, "samples": self.samples,
                "largest_workers_mib": {name: round(size / 1024) for name, size in largest}}
