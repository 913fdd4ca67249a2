"""Turning timings into the numbers reported: steady-state rows/s and latency percentiles."""

from __future__ import annotations

import numpy as np


def steady_rows_per_s(epochs: list[tuple[int, float]]) -> float:
    """Rows per second over every (rows, seconds) epoch but the first (warm-up, iterator and pipeline start)."""
    steady = epochs[1:] or epochs
    return sum(rows for rows, _ in steady) / sum(seconds for _, seconds in steady)


def parallel_epoch(shards: list[dict]) -> tuple[int, float]:
    """One Ray Train epoch's (rows over every worker, slowest worker's training seconds)."""
    return sum(s["rows"] for s in shards), max(s["train_seconds"] for s in shards)


def latency_ms(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 of per-call latencies, in milliseconds."""
    values = np.asarray(seconds) * 1e3
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99))}


def finite_mean(values) -> float:
    """The mean of the values that are not NaN (NaN when none is)."""
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")
