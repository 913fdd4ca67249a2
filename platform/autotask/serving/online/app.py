"""The online scoring service: a Ray Serve deployment with a FastAPI ingress.

  POST /v1/score                      one row or `rows`; scores, each row's rule, the model's name and version
  GET  /v1/models                     every served run: scenarios, features, provenance, onboarded profiles
  POST /v1/scenarios/{name}/onboard   admin (Authorization: Bearer TOKEN): a new scenario's unlabelled rows
  GET  /v1/health                     200 once a replica holds every model (Serve's proxy answers /-/healthz)
  GET  /-/metrics                     Serve's and the app's metrics as Prometheus text (see metrics.py)

Scoring requests are batched across requests (`serve.batch`, by rows). Refused requests answer 4xx with
`{"error": {"field", "problem"}}`. (No `from __future__ import annotations` here: FastAPI reads the route
signatures' types, which Serve's ingress wrapper keeps only as real objects.)
"""

import asyncio
import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from ray import serve

from autotask.serving.online.holder import ModelHolder
from autotask.serving.online.metrics import MetricsMiddleware, ServiceMetrics, node_metrics_url, scrape
from autotask.serving.online.validation import (
    CONFLICT,
    TOO_LARGE,
    Limits,
    RequestProblem,
    onboard_request,
    parse_json,
    score_request,
)

UNAUTHORIZED, UNAVAILABLE = 401, 503
MAX_BATCH_ROWS = Limits().max_rows  # one request's rows always fit a batch
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
api = FastAPI(title="AutoTask online scoring", docs_url=None, redoc_url=None, openapi_url=None)
_replica: dict = {"metrics": None}  # this process's ServiceMetrics, once a replica has started in it
api.add_middleware(MetricsMiddleware, metrics=lambda: _replica["metrics"])


@api.exception_handler(RequestProblem)
async def _refused(_request: Request, problem: RequestProblem) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == UNAUTHORIZED else None
    return JSONResponse(problem.body(), status_code=problem.status, headers=headers)


@dataclass(frozen=True)
class Block:
    """One request's rows, ready for the model: z-scored features, task ids, scenario names."""

    model: str
    features: np.ndarray
    task_ids: np.ndarray
    scenarios: list[str]


def _rows_in(blocks: list[Block]) -> int:
    return sum(len(block.task_ids) for block in blocks)


def token_digest(token: str) -> str:
    """What replicas hold of the admin token: its SHA-256 (the token itself stays with the operator)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it exceeds `limit` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise RequestProblem(TOO_LARGE, "body", f"{length} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestProblem(TOO_LARGE, "body", f"over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.5})
@serve.ingress(api)
class ScoringService:
    """Every served run's ModelHolder, in each replica. `settings`: form, limits (Limits fields), batch_wait_s,
    admin_token_sha256."""

    def __init__(self, runs: list[str], settings: dict):
        holders = [ModelHolder(run, settings.get("form", "onnx")) for run in runs]
        self.holders = {holder.name: holder for holder in holders}
        self.features = {name: holder.manifest.features for name, holder in self.holders.items()}
        self.limits = Limits(**settings.get("limits", {}))
        self.admin_digest = settings["admin_token_sha256"]
        self._predict.set_max_batch_size(max(self.limits.max_rows, MAX_BATCH_ROWS))
        self._predict.set_batch_wait_timeout_s(settings.get("batch_wait_s", 0.0))
        self.metrics = _replica["metrics"] = ServiceMetrics()
        self._metrics_url: str | None = None
        for name, holder in self.holders.items():
            self.metrics.onboarded.set(len(holder.profiles.current()), tags={"model": name})

    @api.post("/v1/score")
    async def score(self, request: Request) -> JSONResponse:
        body = parse_json(await read_body(request, self.limits.max_body_bytes), self.limits)
        parsed = score_request(body, self.features, self.limits)
        holder = self.holders[parsed.model]
        features, task_ids = holder.prepare(parsed.features, parsed.scenarios)
        scores, rules = await self._predict(Block(parsed.model, features, task_ids, parsed.scenarios))
        return JSONResponse({"model": holder.name, "version": holder.version, "scores": scores.tolist(),
                             "rules": rules})

    @api.get("/v1/models")
    async def models(self) -> JSONResponse:
        return JSONResponse({"models": [holder.describe() for holder in self.holders.values()]})

    @api.get("/v1/health")
    async def health(self) -> JSONResponse:
        return JSONResponse({"status": "ready", "models": {n: h.version for n, h in self.holders.items()}})

    @api.get("/-/metrics")
    async def prometheus(self) -> Response:
        """Prometheus text of this node's `ray_serve_*` and `ray_autotask_*` series (503 when Ray's metrics agent
        cannot be read)."""
        try:
            self._metrics_url = self._metrics_url or await asyncio.to_thread(node_metrics_url)
            if self._metrics_url is None:
                raise OSError("Ray reports no metrics export port for this node")
            text = await asyncio.to_thread(scrape, self._metrics_url)
        except OSError as exc:
            raise RequestProblem(UNAVAILABLE, "metrics", f"Ray's metrics agent cannot be read ({exc})") from None
        return Response(text, media_type=PROMETHEUS_TEXT)

    @api.post("/v1/scenarios/{name}/onboard")
    async def onboard(self, name: str, request: Request) -> JSONResponse:
        self._authorize(request)
        body = parse_json(await read_body(request, self.limits.max_body_bytes), self.limits)
        parsed = onboard_request(body, name, self.features, self.limits)
        holder = self.holders[parsed.model]
        try:
            entry = holder.onboard(name, parsed.features)
        except ValueError as exc:  # a seen scenario, or a model without a gate to profile with
            raise RequestProblem(CONFLICT, "scenario", str(exc)) from None
        self.metrics.onboarded.set(len(holder.profiles.current()), tags={"model": holder.name})
        return JSONResponse({"model": holder.name, "version": holder.version, **entry})

    @serve.batch(max_batch_size=MAX_BATCH_ROWS, batch_wait_timeout_s=0.0, batch_size_fn=_rows_in)
    async def _predict(self, blocks: list[Block]) -> list[tuple[np.ndarray, list[str]]]:
        """Each model's rows of the batch scored in one call, split back per request."""
        answers: list = [None] * len(blocks)
        for model in {block.model for block in blocks}:
            mine = [i for i, block in enumerate(blocks) if block.model == model]
            parts = [blocks[i] for i in mine]
            scores, rules = self.holders[model].predict(np.concatenate([b.features for b in parts]),
                                                        np.concatenate([b.task_ids for b in parts]),
                                                        [s for b in parts for s in b.scenarios])
            bounds = np.cumsum([0, *(len(b.task_ids) for b in parts)])
            for i, start, stop in zip(mine, bounds[:-1], bounds[1:], strict=True):
                answers[i] = (scores[start:stop], rules[start:stop])
            self.metrics.batch(model, len(parts), rules)
            self.metrics.onboarded.set(len(self.holders[model].profiles.current()), tags={"model": model})
        return answers

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise RequestProblem(UNAUTHORIZED, "Authorization", "missing: admin operations need "
                                 "'Authorization: Bearer TOKEN'")
        if not hmac.compare_digest(token_digest(token.strip()), self.admin_digest):
            raise RequestProblem(UNAUTHORIZED, "Authorization", "wrong admin token")
