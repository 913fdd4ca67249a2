"""The floor of Ray Serve on this machine: a minimal deployment (a 12-weight logistic score, no validation, no
batching) behind the same HTTP proxy, taking the same request bodies as the scoring service."""

import json

import numpy as np
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


@serve.deployment(max_ongoing_requests=64, ray_actor_options={"num_cpus": 0.5})
class LogisticFloor:
    """sigmoid(x · w + b) of each row's features (an object in `features` order, or a list)."""

    def __init__(self, features: list[str], seed: int = 0):
        self.features = features
        generator = np.random.default_rng(seed)
        self.weights, self.bias = generator.normal(size=len(features)), float(generator.normal())

    async def __call__(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        rows = body.get("rows", [body])
        x = np.asarray([[r["features"][f] for f in self.features] if isinstance(r["features"], dict)
                        else r["features"] for r in rows], dtype=np.float64)
        scores = 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))
        return JSONResponse({"scores": scores.tolist()})
