"""`autotask serve` under a steady load while a replica's process is killed, and while a new model version rolls
out: no accepted request is lost (the client retries on 5xx from Serve and on a dropped connection, and says how
often), every answer is right for the version it names, and the service recovers. Seen here: the one request in
flight on the killed replica may get Serve's plain-text 500."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_online_serving import TOKEN, Client, body_rows, expected, free_port, write_run

from autotask.data.io import read_frame
from autotask.data.manifest import load_manifest

pytestmark = [pytest.mark.long, pytest.mark.ray]
RETRIES = 20


def steady_load(client: Client, body: dict, want: np.ndarray, stop: threading.Event, seen: dict) -> None:
    """Closed loop: each request retried on 502/503/504, on a dropped connection, and on Serve's plain-text 500 (its
    proxy's answer when the replica holding the request dies; the service's own answers are JSON) until answered (at
    most RETRIES). Scoring is idempotent, so a retry is safe."""
    while not stop.is_set():
        for _ in range(RETRIES):
            try:
                status, answer = client.score(body)
            except OSError:
                seen["connection errors"] += 1
                time.sleep(0.05)
                continue
            if status in (502, 503, 504) or (status == 500 and "not JSON" in answer):
                seen[f"http {status}"] += 1  # 500 not from the service: Serve's proxy, the replica died mid-request
                time.sleep(0.05)
                continue
            ok = status == 200 and np.allclose(answer["scores"], want, rtol=0, atol=1e-6)
            seen["answered" if ok else "wrong"] += 1
            if not ok:
                seen.setdefault("wrong answers", []).append((status, answer))
            break
        else:
            seen["lost"] += 1


def replica_actors() -> list[dict]:
    import ray

    return [actor for actor in ray.util.list_named_actors(all_namespaces=True)
            if "ScoringService" in actor["name"] and "REPLICA" in actor["name"].upper()]


def replicas_running(app: str = "autotask") -> int:
    from ray import serve

    deployment = serve.status().applications[app].deployments["ScoringService"]
    return deployment.replica_states.get("RUNNING", 0)


def test_killing_a_replica_loses_no_request(ray_session, tiny_dataset, tmp_path):
    import ray
    from ray import serve

    from autotask.serving.online.deploy import ServeOptions, prepare, start

    run = str(write_run(tiny_dataset, tmp_path / "alpha", 0))
    options = ServeOptions(port=free_port(), replicas=2, cpus_per_replica=0.25)  # form onnx, the default
    prepare([run], options, progress=lambda _: None)
    start([run], TOKEN, options)
    try:
        frame = read_frame(tiny_dataset, splits=("test",)).iloc[:8]
        body = {"rows": body_rows(frame, load_manifest(run + "/model").features)}
        client, stop = Client(options.port), threading.Event()
        seen = dict.fromkeys(("answered", "wrong", "lost", "connection errors", *(f"http {code}" for code in
                                                                                     (500, 502, 503, 504))), 0)
        workers = [threading.Thread(target=steady_load, args=(client, body, expected(run, frame), stop, seen))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        time.sleep(3)
        before = seen["answered"]
        victim = replica_actors()[0]
        killed = time.perf_counter()
        ray.kill(ray.get_actor(victim["name"], namespace=victim["namespace"]), no_restart=True)
        recovered = None
        while time.perf_counter() - killed < 60:  # recovered: two running replicas, the killed one not among them
            names = [actor["name"] for actor in replica_actors()]
            if victim["name"] not in names and len(names) == 2 and replicas_running() == 2:
                recovered = time.perf_counter() - killed
                break
            time.sleep(0.25)
        time.sleep(2)
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        print(f"replica killed: {seen}; 2 replicas running again after {recovered} s")
        assert seen["lost"] == 0 and seen["wrong"] == 0, seen
        assert seen["answered"] > before, seen
        assert recovered is not None and recovered < 60, seen
    finally:
        serve.shutdown()


def test_rolling_out_a_new_version_loses_no_request(ray_session, tiny_dataset, tmp_path):
    """New weights in the run folder, the app deployed again: every answer is right for the version it names, none
    is lost, and the new version answers within 60 s."""
    from ray import serve

    from autotask.serving.online.deploy import ServeOptions, prepare, start
    from autotask.serving.online.holder import run_version

    run = str(write_run(tiny_dataset, tmp_path / "alpha", 0))
    options = ServeOptions(port=free_port(), form="eager", cpus_per_replica=0.25)
    prepare([run], options, progress=lambda _: None)
    start([run], TOKEN, options)
    try:
        frame = read_frame(tiny_dataset, splits=("test",)).iloc[:8]
        body = {"rows": body_rows(frame, load_manifest(run + "/model").features)}
        old = (run_version(run), expected(run, frame))
        fresh = write_run(tiny_dataset, tmp_path / "next", 1)
        (fresh / "model" / "weights.pt").replace(tmp_path / "alpha" / "model" / "weights.pt")
        new = (run_version(run), expected(run, frame))
        client, stop, answers = Client(options.port), threading.Event(), []

        def load() -> None:
            while not stop.is_set():
                answers.append(client.score(body))

        workers = [threading.Thread(target=load) for _ in range(2)]
        for worker in workers:
            worker.start()
        time.sleep(2)
        started = time.perf_counter()
        start([run], TOKEN, options)  # serve.run again: the same app, new arguments
        while time.perf_counter() - started < 60 and not any(a.get("version") == new[0] for _, a in answers[-5:]):
            time.sleep(0.25)
        switched = time.perf_counter() - started
        time.sleep(1)
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        versions = {version: want for version, want in (old, new)}
        bad = [(status, a) for status, a in answers if status != 200
               or not np.allclose(a["scores"], versions[a["version"]], rtol=0, atol=1e-6)]
        seen = {v: sum(a.get("version") == v for _, a in answers) for v in versions}
        print(f"rollout: {len(answers)} answers {seen}, {len(bad)} bad; new version answering after {switched:.1f} s")
        assert not bad, bad[:3]
        assert seen[old[0]] > 0 and seen[new[0]] > 0 and switched < 60
    finally:
        serve.shutdown()
