"""Serve trained runs online on Ray Serve: an HTTP JSON API for scoring, with new scenarios onboarded live.

  autotask serve --run RUN_DIR [--run RUN_DIR ...] [--host 127.0.0.1] [--port 8000]
                [--replicas N | --autoscale MIN:MAX]
  curl -s localhost:8000/v1/score -d '{"scenario": "Hotel", "features": {"bm25": 1.2, ...}}'

Listens on 127.0.0.1 unless --host opens it deliberately. Onboarding (POST /v1/scenarios/NAME/onboard) and version
rollout (POST /v1/models/NAME/rollout, {"run": RUN_DIR}) need the admin token: --admin-token, else
$AUTOTASK_ADMIN_TOKEN, else a random one printed at start. Metrics: GET /-/metrics (Prometheus text). Each run's ONNX
artefact is exported into RUN_DIR/serving/ when absent (about 20 s); onboarded profiles are stored there too. Runs
until Ctrl-C (or --for SECONDS). See docs/serving-online.md for the API.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time

from autotask import interrupts
from autotask.cli import runner_console, runner_main
from autotask.preflight import InputError, check_output_file
from autotask.runtime.driver import start_cluster
from autotask.runtime.session import quiet_console
from autotask.serving.online.deploy import TOKEN_ENV, ServeOptions, prepare, start
from autotask.serving.online.holder import FORMS
from autotask.serving.online.validation import Limits

console = runner_console(stderr=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, help="a trained run directory (repeat to serve more; "
                   "each is chosen by its folder's name in the request's \"model\")")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    scaling = p.add_mutually_exclusive_group()
    scaling.add_argument("--replicas", type=int, default=1, help="replicas of the scoring deployment")
    scaling.add_argument("--autoscale", metavar="MIN:MAX", type=_autoscale,
                         help="let Serve's autoscaler keep MIN to MAX replicas (by requests in flight)")
    p.add_argument("--cpus-per-replica", type=float, default=0.5)
    p.add_argument("--form", choices=FORMS, default="onnx", help="predictor: the ONNX artefact (default) or eager "
                   "PyTorch; onboarded scenarios are always scored eagerly with their profile")
    p.add_argument("--batch-wait-ms", type=float, default=0.0, help="how long a batch waits for more requests "
                   "(default 0: a batch takes the requests that queued while the last one ran)")
    p.add_argument("--max-rows", type=int, default=Limits().max_rows, help="rows one scoring request may hold")
    p.add_argument("--admin-token", help=f"token of admin operations (default: ${TOKEN_ENV}, else a random one)")
    p.add_argument("--address", help="join this Ray cluster (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--for", dest="seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--write-config", metavar="FILE", help="write the service as a Ray Serve config (YAML) for "
                   f"`serve deploy FILE` and exit (needs --admin-token or ${TOKEN_ENV})")
    p.add_argument("--verbose", action="store_true", help="Ray's own logs on the console")
    return p.parse_args(argv)


@runner_main(console)
def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = ServeOptions(host=args.host, port=args.port, replicas=args.replicas, autoscale=args.autoscale,
                           cpus_per_replica=args.cpus_per_replica, form=args.form, batch_wait_ms=args.batch_wait_ms,
                           limits=Limits(max_rows=args.max_rows))
    token = args.admin_token or os.environ.get(TOKEN_ENV) or ""
    if args.write_config:
        return _write_config(args, options, token)
    generated = not token
    token = token or secrets.token_urlsafe(24)
    joins = bool(args.address or os.environ.get("RAY_ADDRESS"))  # a joined cluster's Serve may hold the port already
    names = prepare(args.run, options, progress=lambda line: console.print(line, highlight=False), port=not joins)
    with quiet_console(args.verbose):
        start_cluster(args.address)
        url = start(args.run, token, options)
        console.print(f"serving {', '.join(names)} at {url} ({_scaling(options)}; POST {url}/v1/score, "
                      f"GET {url}/v1/models)", highlight=False, soft_wrap=True)
        if generated:
            console.print(f"admin token (set {TOKEN_ENV} or --admin-token to choose it): {token}", highlight=False)
        return _wait(args.seconds)


def _autoscale(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    if not (sep and low.isdigit() and high.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN:MAX replicas, e.g. 1:4")
    return int(low), int(high)


def _scaling(options: ServeOptions) -> str:
    if options.autoscale:
        return f"{options.autoscale[0]} to {options.autoscale[1]} replicas, autoscaled"
    return f"{options.replicas} replica(s)"


def _write_config(args: argparse.Namespace, options: ServeOptions, token: str) -> int:
    from autotask.serving.online.app import token_digest
    from autotask.serving.online.config import serve_config, write_serve_config

    check_output_file(args.write_config, "--write-config")
    if not token:
        raise InputError(f"--write-config: give the admin token (--admin-token or ${TOKEN_ENV}); the file holds "
                         "only its SHA-256")
    prepare(args.run, options, progress=lambda line: console.print(line, highlight=False))
    path = write_serve_config(args.write_config, serve_config(args.run, token_digest(token), options))
    console.print(f"wrote {path}: deploy it with `serve deploy {path}` (Ray running, its dashboard on :8265)",
                  highlight=False, soft_wrap=True)
    return 0


def _wait(seconds: float | None) -> int:
    from ray import serve

    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupts.forget()  # Ctrl-C is how a service stops: not an interrupted job
    finally:
        serve.shutdown()
        console.print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
