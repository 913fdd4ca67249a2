"""A bounded HTTP load generator for loopback benchmarks (aiohttp, keep-alive connections).

Closed loop: `clients` connections, each sending its next request when the last one answered. Open loop: requests
sent on a fixed schedule (`rate` per second) whatever the answers, latency counted from each request's scheduled
time (so a stalled server shows in the tail instead of slowing the generator); a request that cannot start because
`max_inflight` are pending counts as an error. Both stop by themselves after `seconds`, waiting at most
`timeout_s` for the last answers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np

HEADERS = {"Content-Type": "application/json"}


@dataclass
class Load:
    """What one load phase saw: latencies (ms) of answered 200s, and the count of everything else."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, rows_per_request: int = 1) -> dict:
        latencies = np.asarray(self.latencies_ms or [np.nan])
        ok, failed = len(self.latencies_ms), sum(self.errors.values())
        p50, p99, p999 = np.percentile(latencies, [50, 99, 99.9]) if ok else (None, None, None)
        return {"requests": ok + failed, "ok": ok, "errors": failed, "error_kinds": dict(self.errors),
                "requests_per_s": ok / self.seconds, "rows_per_s": ok * rows_per_request / self.seconds,
                "p50_ms": _round(p50), "p99_ms": _round(p99), "p999_ms": _round(p999)}


def _round(value) -> float | None:
    return None if value is None else round(float(value), 3)


async def _send(session: aiohttp.ClientSession, url: str, body: bytes, since: float, load: Load) -> None:
    try:
        async with session.post(url, data=body, headers=HEADERS) as response:
            await response.read()
            if response.status == 200:
                load.latencies_ms.append((time.perf_counter() - since) * 1000)
            else:
                load.error(f"http {response.status}")
    except (TimeoutError, aiohttp.ClientError) as exc:
        load.error(type(exc).__name__)


def _session(connections: int, timeout_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=timeout_s))


async def _closed(url: str, body: bytes, clients: int, seconds: float, timeout_s: float) -> Load:
    load = Load(seconds)
    async with _session(clients, timeout_s) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                await _send(session, url, body, time.perf_counter(), load)

        await asyncio.gather(*(client() for _ in range(clients)))
    return load


async def _open(url: str, body: bytes, rate: float, seconds: float, timeout_s: float, max_inflight: int) -> Load:
    load = Load(seconds)
    pending: set[asyncio.Task] = set()
    async with _session(max_inflight, timeout_s) as session:
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            if len(pending) >= max_inflight:
                load.error("not sent: too many pending")
                continue
            task = asyncio.create_task(_send(session, url, body, scheduled, load))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
    return load


def closed_loop(url: str, body: bytes, clients: int, seconds: float, timeout_s: float = 5.0) -> Load:
    return asyncio.run(_closed(url, body, clients, seconds, timeout_s))


def open_loop(url: str, body: bytes, rate: float, seconds: float, timeout_s: float = 5.0,
              max_inflight: int = 64) -> Load:
    return asyncio.run(_open(url, body, rate, seconds, timeout_s, max_inflight))
