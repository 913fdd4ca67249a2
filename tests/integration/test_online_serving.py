"""`autotask serve` on a real Ray Serve: scores equal the in-process predictor, bad requests answer 4xx naming the
field (and the service scores correctly after each), admin needs the token, onboarding round trip, loopback only.

One Serve application (two small runs, eager form) is started for the module; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest
from autotask.models.registry import build_model, model_config
from autotask.serving.model import ServingModel, load_run_model, unseen_profile
from autotask.serving.online.holder import ModelHolder
from autotask.serving.online.validation import Limits
from autotask.serving.runtime import TorchPredictor

pytestmark = pytest.mark.ray
TOKEN = "test-admin-token"
LIMITS = Limits(max_rows=64, max_body_bytes=64 * 1024, min_onboard_rows=50)
TIMEOUT = 30  # seconds per request


def write_run(dataset, out, seed: int):
    """A run directory's model/ as runners/train.py writes it (untrained weights: scores need not be good)."""
    manifest = load_manifest(dataset)
    torch.manual_seed(seed)
    model = build_model("autotask", {}, manifest)
    (out / "model").mkdir(parents=True)
    torch.save(model.state_dict(), out / "model" / "weights.pt")
    typed = model_config("autotask", {}, manifest)
    (out / "model" / "model_config.json").write_text(json.dumps({"kind": "autotask", **asdict(typed)}))
    manifest.write(out / "model")
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """Requests to the service on 127.0.0.1 (one connection per request, bounded by TIMEOUT)."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=raw, headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            raw = response.read()
            try:
                return response.status, json.loads(raw or b"null")
            except ValueError:  # not JSON (the service always answers JSON; Serve's proxy may not)
                return response.status, {"not JSON": raw[:200].decode(errors="replace")}
        finally:
            connection.close()

    def text(self, path: str) -> tuple[int, str, str]:
        """GET `path`: status, content type and the body as text."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read().decode()
        finally:
            connection.close()

    def score(self, body) -> tuple[int, dict]:
        return self.call("POST", "/v1/score", body)

    def onboard(self, scenario: str, body, token: str | None = TOKEN) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.call("POST", f"/v1/scenarios/{scenario}/onboard", body, headers)


@pytest.fixture(scope="module")
def service(ray_session, tiny_dataset, tmp_path_factory):
    from ray import serve

    from autotask.serving.online.deploy import ServeOptions, prepare, start

    root = tmp_path_factory.mktemp("online")
    runs = [str(write_run(tiny_dataset, root / name, seed)) for name, seed in (("alpha", 0), ("beta", 1))]
    options = ServeOptions(port=free_port(), form="eager", limits=LIMITS, cpus_per_replica=0.25)
    prepare(runs, options, progress=lambda _: None)
    start(runs, TOKEN, options)
    yield Client(options.port), runs
    serve.shutdown()


@pytest.fixture(scope="module")
def rows(tiny_dataset):
    """Test rows of seen and unseen scenarios, raw features."""
    frame = read_frame(tiny_dataset, splits=("test",))
    return frame.sample(n=120, random_state=0).reset_index(drop=True)


def expected(run, frame, profile=None) -> np.ndarray:
    """autotask.serving.runtime's predictions for raw rows of `frame`."""
    manifest = load_manifest(run + "/model")
    predictor = TorchPredictor(ServingModel(load_run_model(run), profile))
    features = manifest.standardize(frame[manifest.features].to_numpy(dtype=np.float32))
    ids = manifest.task_ids(frame["scenario"]) if profile is None else np.zeros(len(frame), dtype=np.int64)
    return predictor(features, ids)


def body_rows(frame, features, as_list: bool = False) -> list[dict]:
    return [{"scenario": row["scenario"], "features": [row[f] for f in features] if as_list else
             {f: row[f] for f in features}} for _, row in frame.iterrows()]


def test_scores_equal_the_in_process_predictor_for_every_model(service, rows):
    client, runs = service
    features = load_manifest(runs[0] + "/model").features
    chunks = [rows.iloc[i:i + 30] for i in range(0, len(rows), 30)]
    for run in runs:
        model = run.rsplit("/", 1)[-1]
        bodies = [{"model": model, "rows": body_rows(chunk, features, as_list=i % 2 == 1)}
                  for i, chunk in enumerate(chunks)]
        with ThreadPoolExecutor(4) as pool:  # concurrent requests: batched together by serve.batch
            answers = list(pool.map(client.score, bodies))
        assert all(status == 200 for status, _ in answers), answers
        assert {a["model"] for _, a in answers} == {model}
        served = np.concatenate([a["scores"] for _, a in answers])
        np.testing.assert_allclose(served, expected(run, rows), rtol=0, atol=1e-6)
    status, single = client.score({"model": "alpha", **body_rows(rows.iloc[:1], features)[0]})
    assert status == 200 and single["rules"] == ["seen" if rows.scenario[0] in
                                                 load_manifest(runs[0] + "/model").scenarios else "unseen:gated"]
    np.testing.assert_allclose(single["scores"], expected(runs[0], rows.iloc[:1]), rtol=0, atol=1e-6)


def _bad_cases(features: list[str]) -> list[tuple]:
    """(case, method path, body, status, field): each refused with a JSON body naming the field."""
    f0, f1 = features[0], features[1]
    good = {f: 1.0 for f in features}
    row = {"model": "alpha", "scenario": "Hotel", "features": good}
    rows = {"model": "alpha", "rows": [{"scenario": "Hotel", "features": good}] * 2}
    on = {"model": "alpha", "rows": [{"features": good}] * 60}
    score, onboard = "/v1/score", "/v1/scenarios/Fresh/onboard"
    raw_nan = json.dumps(row).replace(f'"{f0}": 1.0', f'"{f0}": NaN').encode()
    return [
        ("malformed JSON", score, b'{"scenario": ', 400, "body"),
        ("NaN literal", score, raw_nan, 400, "body"),
        ("Infinity literal", score, raw_nan.replace(b"NaN", b"-Infinity"), 400, "body"),
        ("not an object", score, b"[1, 2]", 400, "body"),
        ("not UTF-8", score, b"\xff\xfe\x00", 400, "body"),
        ("empty body", score, b"", 400, "body"),
        ("nested too deep", score, b"[" * 40_000, 400, "body"),
        ("body over the size limit", score, json.dumps({**row, "pad": "x" * 70_000}).encode(), 413, "body"),
        ("no model among two", score, {k: v for k, v in row.items() if k != "model"}, 422, "model"),
        ("unknown model", score, {**row, "model": "gamma"}, 404, "model"),
        ("model not a string", score, {**row, "model": 3}, 422, "model"),
        ("missing features", score, {"model": "alpha", "scenario": "Hotel"}, 422, "features"),
        ("missing scenario", score, {"model": "alpha", "features": good}, 422, "scenario"),
        ("missing feature", score, {**row, "features": {f: 1.0 for f in features[1:]}}, 422, f"features.{f0}"),
        ("extra feature", score, {**row, "features": {**good, "bogus": 1.0}}, 422, "features.bogus"),
        ("string value", score, {**row, "features": {**good, f1: "1.5"}}, 422, f"features.{f1}"),
        ("boolean value", score, {**row, "features": {**good, f1: True}}, 422, f"features.{f1}"),
        ("null value", score, {**row, "features": {**good, f1: None}}, 422, f"features.{f1}"),
        ("list value", score, {**row, "features": {**good, f1: [1.0]}}, 422, f"features.{f1}"),
        ("overflow to inf", score, json.dumps(row).replace(f'"{f1}": 1.0', f'"{f1}": 1e400').encode(), 422,
         f"features.{f1}"),
        ("beyond float32", score, {**row, "features": {**good, f1: 1e39}}, 422, f"features.{f1}"),
        ("huge integer", score, {**row, "features": {**good, f1: 10 ** 400}}, 422, f"features.{f1}"),
        ("list too short", score, {**row, "features": [1.0] * (len(features) - 1)}, 422, "features"),
        ("list too long", score, {**row, "features": [1.0] * (len(features) + 1)}, 422, "features"),
        ("list with a string", score, {**row, "features": [1.0, 1.0, "x", *[1.0] * (len(features) - 3)]}, 422,
         "features[2]"),
        ("features a string", score, {**row, "features": "1,2,3"}, 422, "features"),
        ("scenario a number", score, {**row, "scenario": 7}, 422, "scenario"),
        ("scenario blank", score, {**row, "scenario": "  "}, 422, "scenario"),
        ("scenario too long", score, {**row, "scenario": "s" * 300}, 422, "scenario"),
        ("unknown field", score, {**row, "label": 1}, 422, "label"),
        ("empty batch", score, {**rows, "rows": []}, 422, "rows"),
        ("rows not a list", score, {**rows, "rows": {"a": 1}}, 422, "rows"),
        ("batch over the maximum", score, {**rows, "rows": rows["rows"] * 40}, 413, "rows"),
        ("row not an object", score, {**rows, "rows": [rows["rows"][0], 5]}, 422, "rows[1]"),
        ("rows and features", score, {**rows, "features": good}, 422, "features"),
        ("row missing a feature", score, {**rows, "rows": [rows["rows"][0], {"scenario": "Hotel", "features": {
            f: 1.0 for f in features[1:]}}]}, 422, f"rows[1].features.{f0}"),
        ("row with a label", score, {**rows, "rows": [{**rows["rows"][0], "label": 1}]}, 422, "rows[0].label"),
        ("onboard: too few rows", onboard, {**on, "rows": on["rows"][:10]}, 422, "rows"),
        ("onboard: labelled rows", onboard, {**on, "rows": [{"features": good, "label": 0}] * 60}, 422,
         "rows[0].label"),
        ("onboard: a seen scenario", "/v1/scenarios/Hotel/onboard", on, 409, "scenario"),
        ("onboard: rows of another scenario", onboard, {**on, "rows": [{"features": good, "scenario": "Other"}] * 60},
         422, "rows[0].scenario"),
        ("onboard: bad feature", onboard, {**on, "rows": [{"features": {**good, f0: "x"}}] * 60}, 422,
         f"rows[0].features.{f0}"),
        ("onboard: no rows", onboard, {"model": "alpha"}, 422, "rows"),
        ("rollout: unknown model", "/v1/models/gamma/rollout", {"run": "/no/such/run"}, 404, "model"),
        ("rollout: no such run", "/v1/models/alpha/rollout", {"run": "/no/such/run"}, 422, "run"),
        ("rollout: run not a string", "/v1/models/alpha/rollout", {"run": 5}, 422, "run"),
        ("rollout: unknown field", "/v1/models/alpha/rollout", {"weights": "w.pt"}, 422, "weights"),
        ("rollout: the version served", "/v1/models/alpha/rollout", {}, 409, "run"),
    ]


def test_bad_requests_answer_4xx_naming_the_field_and_the_service_still_scores(service, rows):
    client, runs = service
    features = load_manifest(runs[0] + "/model").features
    probe = {"model": "alpha", "rows": body_rows(rows.iloc[:3], features)}
    want = expected(runs[0], rows.iloc[:3])
    cases = _bad_cases(features)
    assert len(cases) >= 40
    failures = []
    for case, path, body, status, field in cases:
        headers = {"Authorization": f"Bearer {TOKEN}"} if path.endswith(("onboard", "rollout")) else None
        got, answer = client.call("POST", path, body, headers)
        error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
        if got != status or error.get("field") != field or not error.get("problem") or "scores" in answer:
            failures.append((case, got, answer))
        ok, scored = client.score(probe)
        if ok != 200 or not np.allclose(scored["scores"], want, rtol=0, atol=1e-6):
            failures.append((f"after {case}", ok, scored))
    assert not failures, failures


def test_the_vectorised_check_answers_as_the_field_by_field_one(tiny_dataset, monkeypatch):
    """score_request checks a well-formed batch in a few vectorised passes and sends anything irregular through the
    field-by-field check: on 600 bodies (object and list rows, each with up to two random faults) both give the same
    matrix or the same refusal."""
    import copy
    import random

    from autotask.serving.online import validation

    features = load_manifest(tiny_dataset).features
    models, limits, generator = {"m": features}, Limits(), random.Random(0)
    faults = ["1", True, None, [1.0], float("nan"), float("inf"), 1e39, 10 ** 400, 10 ** 30, -0.0, 3, {"a": 1}]

    def outcome(body: dict, vectorised: bool):
        if not vectorised:
            monkeypatch.setattr(validation, "_checked_at_once", lambda *_: None)
        try:
            parsed = validation.score_request(copy.deepcopy(body), models, limits)
            return "scored", parsed.features.tobytes(), parsed.scenarios
        except validation.RequestProblem as problem:
            return "refused", problem.status, problem.field, problem.problem
        finally:
            monkeypatch.undo()

    scored = 0
    for case in range(600):
        rows = [{"scenario": generator.choice(["Hotel", "Launch", "s" * 5]),
                 "features": {f: generator.gauss(0, 3) for f in features}} for _ in range(generator.randint(1, 4))]
        if case % 2:
            rows = [{"scenario": r["scenario"], "features": [r["features"][f] for f in features]} for r in rows]
        body = {"rows": rows} if len(rows) > 1 or case % 3 else dict(rows[0])
        for _ in range(generator.randint(0, 2)):
            row, fault = generator.choice(body.get("rows", [body])), generator.randint(0, 7)
            given = row.get("features") if isinstance(row, dict) else None
            if not isinstance(row, dict):
                continue
            if fault == 0:
                row["scenario"] = generator.choice([5, " ", "x" * 300, "a\nb"])
            elif fault == 1:
                row.pop(generator.choice(["scenario", "features"]), None)
            elif fault == 2 and isinstance(given, dict):
                given.pop(generator.choice(features))
            elif fault == 3 and isinstance(given, dict):
                given["bogus"] = 1.0
            elif fault == 4 and isinstance(given, list):
                given.append(1.0)
            elif fault == 5 and given:
                given[generator.choice(features) if isinstance(given, dict) else 2] = generator.choice(faults)
            elif fault == 6:
                row["label"] = 1
            elif fault == 7 and "rows" in body:
                body["rows"][0] = generator.choice([5, [], "x"])
        fast, slow = outcome(body, True), outcome(body, False)
        assert fast == slow, (body, fast, slow)
        scored += fast[0] == "scored"
    assert 100 < scored < 500, scored  # both outcomes well represented


def test_admin_operations_need_the_token(service, rows):
    client, runs = service
    features = load_manifest(runs[0] + "/model").features
    body = {"model": "alpha", "rows": [{"features": {f: 1.0 for f in features}}] * 60}
    for token in (None, "wrong-token", ""):
        status, answer = client.onboard("Locked", body, token)
        assert status == 401 and answer["error"]["field"] == "Authorization", answer
    status, answer = client.call("POST", "/v1/scenarios/Locked/onboard", body, {"Authorization": f"Basic {TOKEN}"})
    assert status == 401, answer
    _, models = client.call("GET", "/v1/models")
    assert all("Locked" not in m["onboarded"] for m in models["models"])


def test_onboarding_round_trip_profile_used_and_kept(service, tiny_dataset):
    client, runs = service
    manifest = load_manifest(runs[0] + "/model")
    frame = read_frame(tiny_dataset, splits=("test",))
    new = frame[frame["scenario"] == "Home"].reset_index(drop=True)  # an unseen scenario of the data: 178 rows
    sample, scored = new.iloc[:150], new.iloc[150:].assign(scenario="Launch-2027")
    status, before = client.score({"model": "alpha", "rows": body_rows(scored, manifest.features)})
    assert status == 200 and set(before["rules"]) == {"unseen:gated"}

    started = time.perf_counter()
    status, entry = client.onboard("Launch-2027", {"model": "alpha", "rows": [
        {"features": r["features"]} for r in body_rows(sample, manifest.features)]})
    assert status == 200, entry
    status, after = client.score({"model": "alpha", "rows": body_rows(scored, manifest.features)})
    elapsed = time.perf_counter() - started
    assert status == 200 and set(after["rules"]) == {"onboarded"}
    assert elapsed < 2.0, f"onboarded and scored with its profile in {elapsed:.2f} s"

    model = load_run_model(runs[0])
    profile = unseen_profile(model, manifest.standardize(sample[manifest.features].to_numpy(dtype=np.float32)))
    np.testing.assert_allclose(entry["profile"], profile.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(after["scores"], expected(runs[0], scored, profile), rtol=0, atol=1e-6)
    assert not np.allclose(after["scores"], before["scores"], atol=1e-6)

    _, models = client.call("GET", "/v1/models")
    listed = {m["name"]: m for m in models["models"]}
    assert listed["alpha"]["onboarded"]["Launch-2027"]["rows"] == 150 and not listed["beta"]["onboarded"]
    restarted = ModelHolder(runs[0], "eager")  # what a replica does on (re)start: read RUN_DIR/serving/profiles.json
    features, ids = restarted.prepare(scored[manifest.features].to_numpy(dtype=np.float32), list(scored.scenario))
    scores, rules = restarted.predict(features, ids, list(scored.scenario))
    assert set(rules) == {"onboarded"}
    np.testing.assert_allclose(scores, after["scores"], rtol=0, atol=1e-6)


def metric(text: str, sample: str, **labels) -> float:
    """The sum of `sample`'s values over the series whose labels include `labels` (Ray adds one series per process)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_are_prometheus_text_and_move_with_requests(service, rows):
    """GET /-/metrics: Serve's and the app's series as Prometheus text; requests by route and status, the latency
    histogram, batch sizes, rows by rule and refusals move after a few requests (Ray exports every 10 s: polled)."""
    client, runs = service
    features = load_manifest(runs[0] + "/model").features
    status, kind, before = client.text("/-/metrics")
    assert status == 200 and kind.startswith("text/plain"), (status, kind, before[:300])
    scored = {"sample": "ray_autotask_http_requests_total", "route": "/v1/score", "status": "200"}
    counters = {"scored": scored, "refused": {"sample": "ray_autotask_refused_total", "status": "422"},
                "latency": {"sample": "ray_autotask_http_request_latency_ms_count", "route": "/v1/score"},
                "batches": {"sample": "ray_autotask_batch_rows_count", "model": "beta"},
                "rows": {"sample": "ray_autotask_rows_scored_total", "model": "beta"}}
    start = {name: metric(before, **labels) for name, labels in counters.items()}
    for _ in range(5):
        assert client.score({"model": "beta", "rows": body_rows(rows.iloc[:3], features)})[0] == 200
    assert client.score({"model": "beta", "scenario": "Hotel"})[0] == 422
    deadline, moved = time.monotonic() + 40, {}
    while time.monotonic() < deadline:
        _, _, text = client.text("/-/metrics")
        moved = {name: metric(text, **labels) - start[name] for name, labels in counters.items()}
        if (moved["scored"] >= 5 and moved["refused"] >= 1 and moved["rows"] >= 15 and moved["batches"] >= 1
                and metric(text, "ray_serve_num_http_requests_total") > 0):  # the proxy exports on its own clock
            break
        time.sleep(1)
    assert moved["scored"] >= 5 and moved["latency"] >= 5 and moved["refused"] >= 1, moved
    assert moved["rows"] >= 15 and moved["batches"] >= 1, moved
    for family in ("ray_autotask_http_request_latency_ms histogram", "ray_autotask_batch_rows histogram",
                   "ray_autotask_onboarded_scenarios gauge"):
        assert f"# TYPE {family}" in text, family
    assert metric(text, "ray_serve_num_http_requests_total") > 0  # Serve's own series, from its proxy
    assert not any(line.split("{")[0].startswith("ray_") and not line.startswith(("ray_serve_", "ray_autotask_"))
                   for line in text.splitlines()), "only Serve's and the app's families"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on `port`, from /proc/net/tcp and tcp6 (hex, as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def test_the_port_binds_loopback_only(service):
    client, _ = service
    assert _listening_addresses(client.port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::
    assert client.call("GET", "/v1/health")[0] == 200


def score_retrying(client: Client, body: dict, retried: dict) -> tuple[int, dict]:
    """A score, retried (at most 20 times) on 502/503/504, a dropped connection or Serve's plain-text 500 (its proxy's
    answer when a replica goes away mid-request; the service's own answers are JSON): scoring is idempotent."""
    for _ in range(20):
        try:
            status, answer = client.score(body)
        except OSError:
            status, answer = 0, {"not JSON": "connection"}
        if status in (0, 502, 503, 504) or (status == 500 and "not JSON" in answer):
            retried[status] = retried.get(status, 0) + 1
            time.sleep(0.05)
            continue
        return status, answer
    return status, answer


def test_rollout_needs_the_token_and_loses_no_request(service, rows, tiny_dataset):
    """POST /v1/models/beta/rollout to a new run while two clients score: 401 without the token (nothing changes);
    with it 202, and every answer is right for the version it names, none failed, the new version answers."""
    from autotask.serving.online.holder import run_version

    client, runs = service
    features = load_manifest(runs[1] + "/model").features
    frame = rows.iloc[:8]
    body, path = {"model": "beta", "rows": body_rows(frame, features)}, "/v1/models/beta/rollout"
    fresh = str(write_run(tiny_dataset, Path(runs[1]).parent / "beta-next", 2))
    old, new = client.call("GET", "/v1/health")[1]["models"]["beta"], run_version(fresh)
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}):
        status, answer = client.call("POST", path, {"run": fresh}, headers)
        assert status == 401 and answer["error"]["field"] == "Authorization", answer
    assert client.call("GET", "/v1/health")[1]["models"]["beta"] == old
    want = {old: expected(runs[1], frame), new: expected(fresh, frame)}
    answers, retried, stop = [], {}, threading.Event()

    def load() -> None:
        while not stop.is_set():
            answers.append(score_retrying(client, body, retried))

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1)
        started = time.perf_counter()
        status, accepted = client.call("POST", path, {"run": fresh}, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 202 and accepted["from"]["version"] == old and accepted["to"]["version"] == new, accepted
        while time.perf_counter() - started < 60 and not any(a.get("version") == new for _, a in answers[-4:]):
            time.sleep(0.2)
        switched = time.perf_counter() - started
        time.sleep(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    bad = [(status, a) for status, a in answers if status != 200
           or not np.allclose(a["scores"], want.get(a.get("version"), np.nan), rtol=0, atol=1e-6)]
    seen = {version: sum(a.get("version") == version for _, a in answers) for version in want}
    print(f"rollout: {len(answers)} answers {seen}, retried {retried}, {len(bad)} failed; new version after "
          f"{switched:.1f} s")
    assert not bad, bad[:3]
    assert seen[old] > 0 and seen[new] > 0, seen
    listed = {m["name"]: m for m in client.call("GET", "/v1/models")[1]["models"]}
    assert listed["beta"]["run"] == fresh and listed["beta"]["version"] == new
    assert listed["alpha"]["version"] == run_version(runs[0])


def test_serve_refuses_bad_input_with_exit_2(tmp_path, tiny_dataset, capsys):
    from autotask.commands.serve import main

    run = write_run(tiny_dataset, tmp_path / "a" / "same", 0)
    write_run(tiny_dataset, tmp_path / "b" / "same", 0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cases = [
            (["--run", str(tmp_path / "missing")], "no such run directory"),
            (["--run", str(run), "--run", str(tmp_path / "b" / "same")], "also named 'same'"),
            (["--run", str(run), "--replicas", "0"], "--replicas 0"),
            (["--run", str(run), "--autoscale", "3:1"], "--autoscale 3:1: MIN:MAX"),
            (["--run", str(run), "--port", str(taken.getsockname()[1])], "cannot listen there"),
            (["--run", str(tiny_dataset)], "not a finished run directory"),
        ]
        for argv, message in cases:
            assert main(argv) == 2, argv
            assert message in capsys.readouterr().err, argv


def test_serve_config_file_is_a_valid_serve_deploy_config(tmp_path, tiny_dataset, monkeypatch):
    """`--write-config` writes what `serve deploy` takes: Serve's schema accepts it and Serve's own builder call
    turns its args into the application (offline: no cluster here)."""
    import yaml
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from autotask.commands.serve import main
    from autotask.serving.online.app import token_digest
    from autotask.serving.online.deploy import app_builder

    run = write_run(tiny_dataset, tmp_path / "gamma", 0)
    monkeypatch.setenv("AUTOTASK_ADMIN_TOKEN", "config-token")
    out = tmp_path / "serve.yaml"
    assert main(["--run", str(run), "--form", "eager", "--replicas", "2", "--write-config", str(out)]) == 0
    config = ServeDeploySchema.model_validate(yaml.safe_load(out.read_text()))
    app = config.applications[0]
    assert config.http_options.host == "127.0.0.1" and app.import_path.endswith("deploy:app_builder")
    assert app.args["admin_token_sha256"] == token_digest("config-token") and "config-token" not in out.read_text()
    built = call_user_app_builder_with_args_if_necessary(app_builder, app.args)
    assert built._bound_deployment.num_replicas == 2
    assert main(["--run", str(run), "--form", "eager", "--autoscale", "1:3", "--write-config", str(out)]) == 0
    scaled = app_builder(yaml.safe_load(out.read_text())["applications"][0]["args"])._bound_deployment
    assert (scaled._deployment_config.autoscaling_config.min_replicas,
            scaled._deployment_config.autoscaling_config.max_replicas) == (1, 3)
