"""Facts about the machine a benchmark ran on (recorded next to its numbers)."""

from __future__ import annotations

import os
import platform as stdlib_platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (the processor name elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return stdlib_platform.processor() or "unknown"


def machine_info(device: str) -> dict:
    """nproc, CPU model, load average at start, torch version and the device measured (GPU name on cuda)."""
    info = {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": stdlib_platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "cuda_available": torch.cuda.is_available(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
