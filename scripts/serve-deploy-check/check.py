"""Score through a Serve application deployed by `serve deploy` on a cluster started outside this process, and
compare with the in-process service path (docs/serving-online.md, "Serve config for serve deploy").

  python scripts/serve-deploy-check/check.py --run RUN_DIR --url http://127.0.0.1:8123 --token TOKEN

Sends 64 single rows and one 64-row batch of random feature rows (every seen scenario and a new one), an
unauthenticated onboarding request (must be 401) and an onboarding with the token; prints the largest difference
from `ModelHolder` and exits 1 when any check fails. With `--nodes 2` (a head without CPUs and a worker node) it also
checks, through Ray's state API, that both replicas run on a node other than the head's, that the profile onboarded
during the check was written beside the run (RUN_DIR/serving/profiles.json), and that 20 requests for the new
scenario, spread over the replicas by Serve's router, are all scored with it.
Loopback only, bounded: at most 86 scoring requests, 2 onboarding.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from autotask.serving.online.holder import ModelHolder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--url", default="http://127.0.0.1:8123")
    p.add_argument("--token", required=True)
    p.add_argument("--nodes", type=int, default=1, help="2: also check replica placement and shared profiles")
    p.add_argument("--address", default="127.0.0.1:6391", help="the cluster's GCS address (with --nodes 2)")
    args = p.parse_args()
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("loopback addresses only")
    started = datetime.now(UTC).isoformat(timespec="seconds")  # as onboarded_at is written
    holder = ModelHolder(args.run)
    features = holder.manifest.features
    rng = np.random.default_rng(0)
    values = rng.normal(size=(64, len(features))).astype(np.float32) * 2
    scenarios = [holder.manifest.scenarios[i % len(holder.manifest.scenarios)] for i in range(63)] + ["brand-new"]
    expected, _ = holder.predict(*holder.prepare(values, scenarios), scenarios)
    rows = [{"scenario": s, "features": dict(zip(features, map(float, v), strict=True))}
            for s, v in zip(scenarios, values, strict=True)]
    problems = []
    def call(path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(args.url + path, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    models = call("/v1/models")[1]
    single = [call("/v1/score", row)[1]["scores"][0] for row in rows]
    batch = call("/v1/score", {"rows": rows})[1]["scores"]
    unauthorised = call("/v1/scenarios/brand-new/onboard", {"rows": rows[:50]})[0]
    onboarded = call("/v1/scenarios/brand-new/onboard", {"rows": [{"features": r["features"]} for r in rows[:60]]},
                     args.token)[0]
    gaps = {"single rows": np.abs(np.array(single) - expected).max(), "a 64-row batch":
            np.abs(np.array(batch) - expected).max()}
    for name, gap in gaps.items():
        print(f"{name}: largest difference from the in-process service path {gap:.2e}")
        if gap > 1e-6:
            problems.append(name)
    print(f"models served: {[m['name'] for m in models['models']]}; onboarding without the token: {unauthorised}; "
          f"with it: {onboarded}")
    if unauthorised != 401 or onboarded != 200:
        problems.append("onboarding")
    if args.nodes > 1:
        problems += multi_node_problems(args, call, rows[0]["features"], started)
    print("FAILED: " + ", ".join(problems) if problems else "every check passed")
    return 1 if problems else 0


def multi_node_problems(args, call, features: dict, started: str) -> list[str]:
    """Every replica (one per node asked) off the head node; the profile onboarded during this check (after
    `started`) on shared storage, and the new scenario scored with it through Serve's router."""
    import ray
    from ray.util.state import list_actors

    from autotask.serving.online.onboarded import PROFILES

    ray.init(address=args.address, logging_level="ERROR", log_to_driver=False)
    head = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"])
    for _ in range(60):  # /-/healthz answers once one replica is up; wait for all of them
        replicas = [a for a in list_actors(filters=[("state", "=", "ALIVE")], detail=True)
                    if a["class_name"].startswith("ServeReplica")]
        if len(replicas) >= args.nodes:
            break
        time.sleep(1)
    nodes = sorted({a["node_id"][:8] for a in replicas})
    alive = sum(n["Alive"] for n in ray.nodes())
    ray.shutdown()
    problems = []
    print(f"{alive} nodes alive; head {head[:8]}; {len(replicas)} replica(s) on node(s) {nodes}")
    if alive < 2 or len(replicas) != args.nodes or any(a["node_id"] == head for a in replicas):
        problems.append("replica placement")
    stored = json.loads((Path(args.run) / "serving" / PROFILES).read_text())
    print(f"{PROFILES} beside the run lists: {sorted(stored)}")
    rules = {call("/v1/score", {"scenario": "brand-new", "features": features})[1]["rules"][0] for _ in range(20)}
    print(f"rules answered for the onboarded scenario over 20 requests: {sorted(rules)}")
    if stored.get("brand-new", {}).get("onboarded_at", "") < started or rules != {"onboarded"}:
        problems.append("shared profile")
    return problems


if __name__ == "__main__":
    sys.exit(main())
