"""Sizes of one benchmark run (shared by the full suite and the Ray-free GPU suite)."""

from __future__ import annotations

from dataclasses import dataclass

LARGE_ROWS = 10_000_000  # the large-data suite's default


@dataclass
class BenchConfig:
    """Sizes of one benchmark run (`quick` keeps the whole run near a minute)."""

    rows: int = 120_000  # simulated rows; the pre-training split (55 %) is what an epoch trains on
    epochs: int = 4  # the first is warm-up and not counted
    latency_calls: int = 3_000
    batch_rows: int = 4_096
    throughput_seconds: float = 3.0
    device: str = "cpu"
    is_quick: bool = False
    world_seed: int = 0  # --suite worlds: the seed its worlds are drawn from (0: the reported benchmark)

    @classmethod
    def quick(cls, device: str = "cpu") -> BenchConfig:
        return cls(rows=12_000, epochs=2, latency_calls=300, throughput_seconds=0.5, device=device, is_quick=True)
