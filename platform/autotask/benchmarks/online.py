"""Online scoring under load, on the loopback address: the floor (a minimal Serve app) and the scoring service,
measured side by side in one run, and the in-process predictors (ONNX Runtime, eager PyTorch) as the limit.

The service runs in its default form (the ONNX artefact) with 1 and 2
replicas, and once with serve.batch waiting 2 ms for more requests. Per app: closed loop with 1 and 4 clients and
open loop at fixed rates (single-row requests), closed loop with 2 clients sending 256-row requests (rows/s). Then
the service's targets against the floor, and how long a new scenario onboarded with 200 unlabelled rows takes to
score with its profile.

The phases of one app run minutes after the floor's, so on a machine whose other load changes (here: other
sessions' jobs) a ratio of two such phases swings (33% and 63% for the 256-row phase in two runs an hour apart).
The batched target is therefore judged on interleaved pairs: with the floor and the 1-replica service both
deployed, PAIRS pairs of short 256-row phases, floor then service, each pair's ratio, and their median.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

import numpy as np

from autotask.benchmarks.loadgen import closed_loop, open_loop
from autotask.benchmarks.machine import machine_info
from autotask.data.manifest import load_manifest

RATES = (20, 40, 60, 80, 120)  # single-row requests per second, open loop
BATCH_ROWS = 256
ONBOARD_ROWS = 200
HELD_P99_MS = 20.0
PAIRS = 5  # interleaved floor/service 256-row phases for the batched target
SERVICES = (("service x1", 1, 0.0), ("service x1 batch wait 2 ms", 1, 2.0), ("service x2", 2, 0.0))  # name,
# replicas, serve.batch's wait for more requests (ms; with 0 a batch still takes every request queued meanwhile)
TARGET_APP = SERVICES[0][0]  # the service judged against the targets (1 replica, no batch wait)


def run_online_suite(config, workdir: Path, runs: list[str]) -> dict:
    """Rows of measurements and the targets; `runs`: exactly one trained run (copied into `workdir`, so the
    artefact export and the onboarded profile stay out of it)."""
    if len(runs or []) != 1:
        raise ValueError("--suite online needs one --run RUN_DIR (a trained torch run)")
    from ray import serve

    from autotask.benchmarks.online_floor import LogisticFloor
    from autotask.runtime.session import ensure_ray
    from autotask.serving.online.app import token_digest
    from autotask.serving.online.deploy import APP_NAME, ServeOptions, prepare, service_app

    run = _copy_run(runs[0], Path(workdir) / "online" / Path(runs[0]).resolve().name)
    seconds = 2.0 if config.is_quick else 4.0
    token, port = secrets.token_urlsafe(16), _free_port()
    options = ServeOptions(port=port)
    prepare([run], options, progress=lambda _: None)
    manifest = load_manifest(Path(run) / "model")
    single, batch = (json.dumps({"rows": _rows(manifest, n)}).encode() for n in (1, BATCH_ROWS))
    base = f"http://127.0.0.1:{port}"

    ensure_ray()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    rows: list[dict] = [*_in_process(run, manifest, seconds)]
    try:
        serve.run(LogisticFloor.bind(manifest.features), name="floor", route_prefix="/floor")
        rows += _measure("floor", f"{base}/floor", single, batch, seconds)
        floor_held = _held(rows, "floor")
        for name, replicas, wait_ms in SERVICES:
            app = service_app([run], token_digest(token), ServeOptions(port=port, replicas=replicas,
                                                                       batch_wait_ms=wait_ms))
            serve.run(app, name=APP_NAME, route_prefix="/")
            rows += _measure(name, f"{base}/v1/score", single, batch, seconds,
                             extra_rate=0.8 * floor_held if floor_held else None)
            if name == TARGET_APP:
                rows += _pairs(f"{base}/floor", f"{base}/v1/score", batch, seconds / 2)
        onboard_s = _onboard_seconds(base, token, manifest)
    finally:
        serve.shutdown()
    return {"suite": "online", "machine": machine_info("cpu"), "config": asdict(config), "rows": rows,
            "targets": _targets(rows, floor_held, onboard_s), "onboard_seconds": onboard_s,
            "settings": {"rates": RATES, "phase_seconds": seconds, "batch_rows": BATCH_ROWS,
                         "service": asdict(options)}}


def _copy_run(source: str, out: Path) -> str:
    """The run's model/, config.json and any exported artefact (not its onboarded profiles)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(Path(source) / "model", out / "model")
    for extra in ("config.json",):
        if (Path(source) / extra).exists():
            shutil.copy2(Path(source) / extra, out / extra)
    for artefact in (Path(source) / "serving").glob("model-*.onnx"):
        (out / "serving").mkdir(exist_ok=True)
        shutil.copy2(artefact, out / "serving" / artefact.name)
    return str(out)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rows(manifest, n: int, scenario: str | None = None, seed: int = 0) -> list[dict]:
    """`n` rows drawn around the manifest's feature statistics, cycling over the seen scenarios and one new one."""
    generator = np.random.default_rng(seed)
    values = np.asarray(manifest.mean) + np.asarray(manifest.std) * generator.normal(size=(n, manifest.d))
    names = [*manifest.scenarios, "Unseen-Bench"]
    return [{"scenario": scenario or names[i % len(names)],
             "features": dict(zip(manifest.features, map(float, row), strict=True))} for i, row in enumerate(values)]


def _in_process(run: str, manifest, seconds: float) -> list[dict]:
    """The limit: the run's model called in this process on the requests' rows, single-row latency and rows/s with
    256-row batches: as the service calls it (ModelHolder: ONNX, seen and unseen rows in separate calls), ONNX in one
    call, and eager PyTorch."""
    from autotask.serving.online.holder import ModelHolder

    rows = _rows(manifest, BATCH_ROWS)  # the requests' rows: seen scenarios and one new one (task id 0)
    scenarios = [r["scenario"] for r in rows]
    holder, eager = ModelHolder(run), ModelHolder(run, "eager")
    features, ids = holder.prepare(np.asarray([[r["features"][f] for f in manifest.features] for r in rows],
                                              dtype=np.float32), scenarios)
    predictors = {"service path (ONNX, grouped)": lambda x, i: holder.predict(x, i, scenarios[:len(i)]),
                  "ONNX, one call": holder.predictor, "eager": eager.predictor}
    return [{"section": "in-process", "name": name, "app": f"in-process {name}", "mode": "in-process",
             **_timed(predictor, features, ids, seconds / 2),
             "note": f"single-row latency; rows/s with {BATCH_ROWS}-row batches"}
            for name, predictor in predictors.items()]


def _timed(predictor, features: np.ndarray, ids: np.ndarray, seconds: float) -> dict:
    latencies, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        predictor(features[:1], ids[:1])
        latencies.append((time.perf_counter() - start) * 1000)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor(features, ids)
        calls += 1
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3),
            "rows_per_s": calls * len(ids) / (time.perf_counter() - start)}


def _measure(app: str, url: str, single: bytes, batch: bytes, seconds: float, extra_rate: float | None = None
             ) -> list[dict]:
    closed_loop(url, single, 2, min(seconds, 2.0))  # warm-up: connections, replicas' first calls
    rows = [_row(app, "closed", f"{clients} client(s)", closed_loop(url, single, clients, seconds), clients=clients)
            for clients in (1, 4)]
    rates = sorted({*RATES, *([round(extra_rate)] if extra_rate else [])})
    rows += [_row(app, "open", f"{rate} req/s", open_loop(url, single, rate, seconds), rate=rate) for rate in rates]
    rows.append(_row(app, "batch", f"{BATCH_ROWS} rows, 2 clients", closed_loop(url, batch, 2, seconds), clients=2,
                     rows_per_request=BATCH_ROWS))
    return rows


def _pairs(floor_url: str, service_url: str, batch: bytes, seconds: float) -> list[dict]:
    """PAIRS pairs of 256-row closed-loop phases (2 clients), the floor's then the service's, back to back."""
    rows = []
    for pair in range(PAIRS):
        for app, url in (("floor", floor_url), (TARGET_APP, service_url)):
            rows.append(_row(app, "pair", f"{BATCH_ROWS} rows, 2 clients, pair {pair + 1}",
                             closed_loop(url, batch, 2, seconds), clients=2, rows_per_request=BATCH_ROWS, pair=pair))
    return rows


def _row(app: str, mode: str, label: str, load, rows_per_request: int = 1, **extra) -> dict:
    summary = load.summary(rows_per_request)
    note = f"p99.9 {summary['p999_ms']} ms; {summary['errors']} errors of {summary['requests']}"
    return {"section": "online", "name": f"{app}: {mode} {label}", "app": app, "mode": mode, **extra,
            **summary, "note": note}


def _held(rows: list[dict], app: str) -> float | None:
    """The highest open-loop rate `app` held: no errors and at least 95% of the rate answered."""
    held = [r["rate"] for r in rows if r["app"] == app and r["mode"] == "open" and r["errors"] == 0
            and r["requests_per_s"] >= 0.95 * r["rate"]]
    return max(held) if held else None


def _onboard_seconds(base: str, token: str, manifest) -> float:
    """From the onboarding request (200 unlabelled rows) to the first answer scored with the new profile."""
    rows = [{"features": r["features"]} for r in _rows(manifest, ONBOARD_ROWS, seed=1)]
    start = time.perf_counter()
    _post(f"{base}/v1/scenarios/Bench-Launch/onboard", {"rows": rows}, {"Authorization": f"Bearer {token}"})
    answer = _post(f"{base}/v1/score", {"rows": _rows(manifest, 1, scenario="Bench-Launch")})
    elapsed = time.perf_counter() - start
    if answer["rules"] != ["onboarded"]:
        raise RuntimeError(f"the onboarded scenario was not scored with its profile: {answer}")
    return round(elapsed, 3)


def _post(url: str, body: dict, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _find(rows: list[dict], app: str, mode: str, **match) -> dict | None:
    return next((r for r in rows if r["app"] == app and r["mode"] == mode
                 and all(r.get(k) == v for k, v in match.items())), None)


def _targets(rows: list[dict], floor_held: float | None, onboard_s: float) -> list[dict]:
    """The issue's targets for the 1-replica service against the floor measured in the same run."""
    app, targets = TARGET_APP, []
    for clients in (1, 4):
        mine, floor = _find(rows, app, "closed", clients=clients), _find(rows, "floor", "closed", clients=clients)
        for key in ("p50_ms", "p99_ms"):
            ratio = mine[key] / floor[key] if mine[key] and floor[key] else float("inf")
            targets.append({"target": f"single-row {key[:3]} with {clients} client(s) <= 1.5x the floor's",
                            "measured": f"{mine[key]:.1f} vs {floor[key]:.1f} ms ({ratio:.2f}x)",
                            "met": ratio <= 1.5})
    if floor_held:
        at = _find(rows, app, "open", rate=round(0.8 * floor_held))
        targets.append({"target": f"no errors at 80% of the floor's held rate ({round(0.8 * floor_held)} req/s)",
                        "measured": f"{at['errors']} errors of {at['requests']}", "met": at["errors"] == 0})
    mine, floor = _find(rows, app, "batch"), _find(rows, "floor", "batch")
    limit = _find(rows, "in-process service path (ONNX, grouped)", "in-process")
    onnx, eager = _find(rows, "in-process ONNX, one call", "in-process"), _find(rows, "in-process eager", "in-process")
    pairs = [(_find(rows, app, "pair", pair=i), _find(rows, "floor", "pair", pair=i)) for i in range(PAIRS)]
    ratios = [m["rows_per_s"] / f["rows_per_s"] for m, f in pairs if m and f and f["rows_per_s"]]
    ratio = float(np.median(ratios)) if ratios else mine["rows_per_s"] / floor["rows_per_s"]
    service = float(np.median([m["rows_per_s"] for m, _ in pairs if m])) if ratios else mine["rows_per_s"]
    targets.append({"target": f"{BATCH_ROWS}-row requests: >= 70% of the floor's rows/s (median of {len(ratios)} "
                              "interleaved pairs)",
                    "measured": f"{ratio:.0%} (pairs: {', '.join(f'{r:.0%}' for r in ratios)}); in the sequential "
                                f"phases {mine['rows_per_s']:,.0f} vs {floor['rows_per_s']:,.0f} rows/s "
                                f"({mine['rows_per_s'] / floor['rows_per_s']:.0%}); the service's median "
                                f"{service:,.0f} rows/s is {service / limit['rows_per_s']:.0%} of the in-process "
                                f"limit (ONNX, grouped); ONNX in one call {onnx['rows_per_s']:,.0f}, eager "
                                f"{eager['rows_per_s']:,.0f}",
                    "met": ratio >= 0.7, "ratios": ratios})
    targets.append({"target": f"a scenario onboarded with {ONBOARD_ROWS} rows scores with its profile within 2 s",
                    "measured": f"{onboard_s:.2f} s", "met": onboard_s <= 2.0})
    held = {name: _held_at_p99(rows, name) for name in sorted({r["app"] for r in rows if r["mode"] == "open"})}
    targets.append({"target": f"the service holds an open-loop rate at p99 <= {HELD_P99_MS:g} ms (req/s per app)",
                    "measured": "; ".join(f"{name}: {rate or 'none'}" for name, rate in held.items()),
                    "met": held.get(app) is not None})
    return targets


def _held_at_p99(rows: list[dict], app: str) -> int | None:
    """The highest open-loop rate `app` answered without errors at p99 <= HELD_P99_MS."""
    held = [r["rate"] for r in rows if r["app"] == app and r["mode"] == "open" and r["errors"] == 0
            and r["p99_ms"] is not None and r["p99_ms"] <= HELD_P99_MS]
    return max(held) if held else None
