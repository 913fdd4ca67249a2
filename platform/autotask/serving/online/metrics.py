"""The service's metrics, recorded with Ray's metrics API and read back as Prometheus text (`GET /-/metrics`).

Each replica records its own series (`ray.util.metrics`); Ray's metrics agent on each node gathers every process's
series (Serve's own `ray_serve_*` ones too) and exports them on the node's metrics port, which is what a Prometheus
set up for Ray scrapes. `GET /-/metrics` is the same text for the node the answering replica runs on, cut to the
`ray_serve_*` and `ray_autotask_*` families. Ray exports what processes record every `metrics_report_interval_ms`
(10 s by default), so a scrape lags the requests by up to that long. Counters are summed in the replica and handed to
Ray once a second by a background thread (each Ray record costs tens of microseconds of the replica's time under
load; a 256-row request made about 7 of them).

  ray_autotask_http_requests_total{route, method, status}   every request the app answered (route: the template)
  ray_autotask_http_request_latency_ms{route}               time in the app, ms (a histogram)
  ray_autotask_batch_rows{model} / _batch_requests{model}   rows and requests of each serve.batch call (histograms)
  ray_autotask_rows_scored_total{model, rule}               rows scored: seen, onboarded or unseen:<rule>
  ray_autotask_refused_total{route, status}                 requests refused with a 4xx JSON body
  ray_autotask_onboarded_scenarios{model}                   scenarios with a stored profile (a gauge)
  ray_autotask_rollouts_total{model}                        versions rolled out through the admin endpoint
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter as Tally

LATENCY_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
BATCH_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
BATCH_REQUESTS = (1, 2, 3, 4, 6, 8, 16, 32, 64)
FLUSH_S = 1.0  # counters: summed locally, recorded in Ray at most this often
FAMILIES = ("ray_serve_", "ray_autotask_")  # what GET /-/metrics keeps of the node's export
ROUTES = ("/v1/score", "/v1/models", "/v1/health", "/-/metrics")  # fixed paths; templated ones come from the router


class ServiceMetrics:
    """One replica's metrics (created in the replica's process: Ray records them from there)."""

    def __init__(self):
        from ray.util.metrics import Counter, Gauge, Histogram

        self.requests = Counter("autotask_http_requests", "Requests answered by the scoring app",
                                tag_keys=("route", "method", "status"))
        self.latency = Histogram("autotask_http_request_latency_ms", "Time a request spent in the scoring app (ms)",
                                 boundaries=list(LATENCY_MS), tag_keys=("route",))
        self.batch_rows = Histogram("autotask_batch_rows", "Rows in one serve.batch call of a model",
                                    boundaries=list(BATCH_ROWS), tag_keys=("model",))
        self.batch_requests = Histogram("autotask_batch_requests", "Requests in one serve.batch call of a model",
                                        boundaries=list(BATCH_REQUESTS), tag_keys=("model",))
        self.rows = Counter("autotask_rows_scored", "Rows scored, by the rule that scored them",
                            tag_keys=("model", "rule"))
        self.refused = Counter("autotask_refused", "Requests refused with a 4xx JSON body",
                               tag_keys=("route", "status"))
        self.onboarded = Gauge("autotask_onboarded_scenarios", "New scenarios with a stored profile",
                               tag_keys=("model",))
        self.rollouts = Counter("autotask_rollouts", "Model versions rolled out through the admin endpoint",
                                tag_keys=("model",))
        self._pending: Tally = Tally()  # (counter, tags as a tuple of items) -> amount not yet recorded in Ray
        self._lock = threading.Lock()
        self._gauges: dict[str, float] = {}
        threading.Thread(target=self._flush_forever, name="autotask-metrics", daemon=True).start()

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self._count(self.requests, route=route, method=method, status=str(status))
        if 400 <= status < 500:
            self._count(self.refused, route=route, status=str(status))
        self.latency.observe(seconds * 1000, tags={"route": route})

    def batch(self, model: str, requests: int, rules: list[str]) -> None:
        tags = {"model": model}
        self.batch_rows.observe(len(rules), tags=tags)
        self.batch_requests.observe(requests, tags=tags)
        for rule, count in Tally(rules).items():
            self._count(self.rows, count, model=model, rule=rule)

    def onboarded_now(self, model: str, scenarios: int) -> None:
        """The gauge's value (recorded in Ray by the next flush)."""
        self._gauges[model] = scenarios

    def flush(self) -> None:
        """Record the summed counters in Ray, and the gauges again (Ray drops a gauge not set for two export
        intervals)."""
        with self._lock:
            pending, self._pending = self._pending, Tally()
        for (counter, tags), amount in pending.items():
            counter.inc(float(amount), tags=dict(tags))
        for model, scenarios in list(self._gauges.items()):
            self.onboarded.set(scenarios, tags={"model": model})

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            self.flush()

    def _count(self, counter, amount: float = 1.0, **tags: str) -> None:
        key = counter, tuple(sorted(tags.items()))
        with self._lock:
            self._pending[key] += amount


class MetricsMiddleware:
    """ASGI middleware: each HTTP request's route template, method, status and time, into `metrics()` (None: not
    recorded, e.g. outside a replica)."""

    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        recorder = self.metrics()
        if scope["type"] != "http" or recorder is None:
            await self.app(scope, receive, send)
            return
        started, answer = time.perf_counter(), {"status": 500}

        async def sent(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            recorder.answered(route_of(scope), scope.get("method", ""), answer["status"],
                              time.perf_counter() - started)


def route_of(scope) -> str:
    """The route's template (`/v1/scenarios/{name}/onboard`), never the raw path of an unmatched request (a label
    per random path would grow without bound)."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "")
    return path if path in ROUTES or route is not None else "unmatched"


def node_metrics_url() -> str | None:
    """This node's Ray metrics export (Prometheus text), or None when Ray does not say where it is."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node.get("NodeID") == node_id and node.get("MetricsExportPort"):
            return f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
    return None


def scrape(url: str, timeout_s: float = 5.0) -> str:
    """The export at `url`, cut to the FAMILIES (HELP and TYPE lines kept with their samples)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        text = response.read().decode()
    return "".join(line + "\n" for line in text.splitlines() if _family(line).startswith(FAMILIES))


def _family(line: str) -> str:
    if line.startswith("# "):  # "# HELP name ..." / "# TYPE name ..."
        parts = line.split(" ", 3)
        return parts[2] if len(parts) > 2 else ""
    return line.split("{", 1)[0].split(" ", 1)[0]
