"""The online scoring service: a Ray Serve deployment with a FastAPI ingress.

  POST /v1/score                      one row or `rows`; scores, each row's rule, the model's name and version
  GET  /v1/models                     every served run: scenarios, features, provenance, onboarded profiles
  POST /v1/scenarios/{name}/onboard   admin (Authorization: Bearer TOKEN): a new scenario's unlabelled rows
  POST /v1/models/{name}/rollout      admin: serve model `name` from another run (or its run's new weights), by
                                      Serve's in-place update of the whole app; 202 once Serve has the new target
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
from pathlib import Path

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from ray import serve

from autotask.serving.online.holder import ModelHolder, check_run, ensure_artefact, run_version
from autotask.serving.online.metrics import MetricsMiddleware, ServiceMetrics, node_metrics_url, scrape
from autotask.serving.online.validation import (
    CONFLICT,
    NOT_FOUND,
    TOO_LARGE,
    UNPROCESSABLE,
    Limits,
    RequestProblem,
    onboard_request,
    parse_json,
    rollout_request,
    score_request,
)

ACCEPTED, UNAUTHORIZED, UNAVAILABLE = 202, 401, 503
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
    admin_token_sha256, names (each run's model name), and what a rollout deploys again (deploy.service_app)."""

    def __init__(self, runs: list[str], settings: dict):
        names = settings.get("names") or [None] * len(runs)
        holders = [ModelHolder(run, settings.get("form", "onnx"), name) for run, name in zip(runs, names, strict=True)]
        self.holders = {holder.name: holder for holder in holders}
        self.settings = settings
        self.features = {name: holder.manifest.features for name, holder in self.holders.items()}
        self.limits = Limits(**settings.get("limits", {}))
        self.admin_digest = settings["admin_token_sha256"]
        self._predict.set_max_batch_size(max(self.limits.max_rows, MAX_BATCH_ROWS))
        self._predict.set_batch_wait_timeout_s(settings.get("batch_wait_s", 0.0))
        self.metrics = _replica["metrics"] = ServiceMetrics()
        self._metrics_url: str | None = None
        for name, holder in self.holders.items():
            self.metrics.onboarded_now(name, len(holder.profiles.current()))

    @api.post("/v1/score")
    async def score(self, request: Request) -> JSONResponse:
        body = parse_json(await read_body(request, self.limits.max_body_bytes), self.limits)
        parsed = score_request(body, self.features, self.limits)
        holder = self.holders[parsed.model]
        features, task_ids = holder.prepare(parsed.features, parsed.scenarios)
        scores, rules = await self._predict(Block(parsed.model, features, task_ids, parsed.scenarios))
        return Response(orjson.dumps({"model": holder.name, "version": holder.version, "scores": scores.tolist(),
                                      "rules": rules}), media_type="application/json")

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
        self.metrics.onboarded_now(holder.name, len(holder.profiles.current()))
        return JSONResponse({"model": holder.name, "version": holder.version, **entry})

    @api.post("/v1/models/{name}/rollout")
    async def rollout(self, name: str, request: Request) -> JSONResponse:
        """Serve model `name` from `{"run": RUN_DIR}` (default: its own run folder read again): the run is checked
        (a torch run with the same features) and its ONNX artefact exported when absent (about 20 s), then the app
        is deployed again; Serve's in-place update starts replicas of the new version and stops the old ones once
        those answer, so no request fails. 202 with both versions; answers name the version that scored them."""
        self._authorize(request)
        if name not in self.holders:
            raise RequestProblem(NOT_FOUND, "model", f"{name[:200]!r} is not served; served: {sorted(self.holders)}")
        raw = await read_body(request, self.limits.max_body_bytes)
        run = rollout_request(parse_json(raw, self.limits) if raw.strip() else {})  # no body: its own run again
        if self.settings.get("deployed_by", "autotask serve") != "autotask serve":
            raise RequestProblem(CONFLICT, "model", "this app was deployed from a Serve config file: roll out by "
                                 "`serve deploy` of a new config (autotask serve --write-config)")
        return JSONResponse(await asyncio.to_thread(self._roll_out, name, run), status_code=ACCEPTED)

    def _roll_out(self, name: str, run: str | None) -> dict:
        from autotask.serving.online.deploy import roll_out

        holder = self.holders[name]
        run = str(Path(run).resolve()) if run else str(holder.run_dir.resolve())
        try:
            check_run(run)
            features = ModelHolder.features_of(run)
            version = run_version(run)
        except (ValueError, OSError) as exc:
            raise RequestProblem(UNPROCESSABLE, "run", str(exc).removeprefix(f"--run {run}: ")) from None
        if features != holder.manifest.features:
            raise RequestProblem(CONFLICT, "run", f"its features {features} differ from model {name!r}'s "
                                 f"{holder.manifest.features}: serve it under a new name instead")
        if version == holder.version and run == str(holder.run_dir.resolve()):
            raise RequestProblem(CONFLICT, "run", f"model {name!r} already serves version {version} from {run}")
        if holder.form == "onnx":
            ensure_artefact(run)
        runs = [run if model == name else str(h.run_dir.resolve()) for model, h in self.holders.items()]
        roll_out(serve.get_replica_context().app_name, runs, list(self.holders), self.settings)
        self.metrics.rollouts.inc(1.0, tags={"model": name})
        self.metrics.flush()  # this replica may be stopped before the next flush
        return {"model": name, "from": {"version": holder.version, "run": str(holder.run_dir.resolve())},
                "to": {"version": version, "run": run},
                "status": "rolling out: Serve starts replicas of the new version and stops the old ones once those "
                          "answer; answers name the version that scored them (GET /v1/health lists it)"}

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
            self.metrics.onboarded_now(model, len(self.holders[model].profiles.current()))
        return answers

    def _authorize(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise RequestProblem(UNAUTHORIZED, "Authorization", "missing: admin operations need "
                                 "'Authorization: Bearer TOKEN'")
        if not hmac.compare_digest(token_digest(token.strip()), self.admin_digest):
            raise RequestProblem(UNAUTHORIZED, "Authorization", "wrong admin token")
