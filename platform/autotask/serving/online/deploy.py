"""Put the scoring service on Ray Serve: check the runs and the port, export artefacts, start Serve, run the app.

`app_builder(args)` is the same application for a Serve config file (`import_path:
autotask.serving.online.deploy:app_builder`, deployed with `serve deploy`). `roll_out` deploys the running
application again with one model's run replaced (the admin endpoint POST /v1/models/NAME/rollout calls it from a
replica): Serve's in-place update starts replicas of the new version and stops the old ones once those answer.
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ray import serve

from autotask.serving.online.app import ScoringService, token_digest
from autotask.serving.online.holder import FORMS, check_run, ensure_artefact, run_version
from autotask.serving.online.validation import Limits

APP_NAME = "autotask"
ROUTE_PREFIX = "/"
BY_COMMAND, BY_CONFIG = "autotask serve", "serve deploy"  # who deployed the app: a config's is rolled out by a config
TOKEN_ENV = "AUTOTASK_ADMIN_TOKEN"
TARGET_ONGOING = 8  # --autoscale: requests in flight per replica the autoscaler aims at


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"  # loopback only unless --host opens it deliberately
    port: int = 8000
    replicas: int = 1
    autoscale: tuple[int, int] | None = None  # (min, max) replicas, Serve's autoscaler instead of a fixed count
    cpus_per_replica: float = 0.5  # fractional: Serve fits beside Ray's own work on 2 cores
    form: str = "onnx"
    batch_wait_ms: float = 0.0  # measured: waiting 2 ms for more requests cost latency and rows/s (serving-online.md)
    limits: Limits = field(default_factory=Limits)

    def check(self) -> None:
        problems = [message for bad, message in (
            (not 0 < self.port < 65536, f"--port {self.port}: must be 1..65535"),
            (self.replicas < 1, f"--replicas {self.replicas}: at least 1"),
            (self.autoscale is not None and not 1 <= self.autoscale[0] <= self.autoscale[1] <= 64,
             f"--autoscale {':'.join(map(str, self.autoscale or ()))}: MIN:MAX with 1 <= MIN <= MAX <= 64"),
            (not 0 < self.cpus_per_replica <= 64, f"--cpus-per-replica {self.cpus_per_replica}: must be in (0, 64]"),
            (self.form not in FORMS, f"--form {self.form}: one of {FORMS}"),
            (not 0 <= self.batch_wait_ms <= 1000, f"--batch-wait-ms {self.batch_wait_ms}: must be 0..1000"),
            (not 1 <= self.limits.max_rows <= 100_000, f"--max-rows {self.limits.max_rows}: must be 1..100000"),
        ) if bad]
        if problems:
            raise ValueError(problems[0])


def model_names(runs: list[str]) -> list[str]:
    """Each run's model name (its folder's name); ValueError for a bad run or two runs of one name."""
    names = []
    for run in runs:
        check_run(run)
        name = Path(run).resolve().name
        if name in names:
            raise ValueError(f"--run {run}: another run is also named {name!r} (the model name is the run folder's "
                             "name); rename one folder")
        names.append(name)
    return names


def check_port(host: str, port: int) -> None:
    """ValueError when `host:port` cannot be bound (in use, or not an address of this machine)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise ValueError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None


def service_app(runs: list[str], admin_token_sha256: str, options: ServeOptions, names: list[str] | None = None,
                deployed_by: str = BY_COMMAND):
    """The bound Serve application (runs given as paths the replicas can read; `names`: the models' names, by
    default each run folder's name). The runs' versions are among its arguments, so deploying it again after a run's
    weights changed replaces the replicas (Serve's rolling update)."""
    settings = {"form": options.form, "limits": asdict(options.limits), "batch_wait_s": options.batch_wait_ms / 1000,
                "admin_token_sha256": admin_token_sha256,
                "versions": [run_version(run) for run in runs],  # new weights, new arguments: Serve rolls out
                "names": list(names or [Path(run).resolve().name for run in runs]),
                "options": asdict(options), "deployed_by": deployed_by}  # what a rollout deploys again
    scaling = ({"num_replicas": options.replicas} if options.autoscale is None else
               {"autoscaling_config": {"min_replicas": options.autoscale[0], "max_replicas": options.autoscale[1],
                                       "target_ongoing_requests": TARGET_ONGOING}})
    deployment = ScoringService.options(**scaling,
                                        ray_actor_options={"num_cpus": options.cpus_per_replica})
    return deployment.bind([str(Path(run).resolve()) for run in runs], settings)


def prepare(runs: list[str], options: ServeOptions, progress=print, port: bool = False) -> list[str]:
    """Check everything a start needs before Ray starts (with `port`, that options.host:port is free); export
    missing ONNX artefacts. Returns the model names."""
    options.check()
    names = model_names(runs)
    if port:
        check_port(options.host, options.port)
    if options.form == "onnx":
        for run in runs:
            progress(f"ONNX artefact of {run}: {ensure_artefact(run)}")
    return names


def start(runs: list[str], admin_token: str, options: ServeOptions) -> str:
    """Start Serve's HTTP proxy on options.host:port (Ray must be running) and run the service; returns its URL once
    every replica holds every model."""
    serve.start(http_options={"host": options.host, "port": options.port})
    serve.run(service_app(runs, token_digest(admin_token), options), name=APP_NAME, route_prefix=ROUTE_PREFIX)
    return f"http://{options.host}:{options.port}"


def options_from(settings: dict) -> ServeOptions:
    """The ServeOptions a running app was deployed with (its settings["options"])."""
    given = dict(settings["options"])
    return ServeOptions(**{**given, "limits": Limits(**given["limits"]),
                           "autoscale": tuple(given["autoscale"]) if given.get("autoscale") else None})


def roll_out(app_name: str, runs: list[str], names: list[str], settings: dict) -> None:
    """Deploy app `app_name` again with these runs (each served under its name in `names`) and the settings it runs
    with; returns once Serve has the new target (not waiting for the replicas: the caller may be one of them)."""
    app = service_app(runs, settings["admin_token_sha256"], options_from(settings), names, settings["deployed_by"])
    serve.run_many([serve.RunTarget(target=app, name=app_name, route_prefix=ROUTE_PREFIX)],
                   wait_for_ingress_deployment_creation=False, wait_for_applications_running=False)


def app_builder(args: dict):
    """Serve config entry point: args {"runs": [RUN_DIR, ...], "admin_token_sha256": HEX, and optionally "replicas",
    "autoscale" [MIN, MAX], "cpus_per_replica", "form", "batch_wait_ms", "max_rows"} (the artefacts must exist:
    `autotask serve --write-config` exports them)."""
    if not args.get("runs") or not args.get("admin_token_sha256"):
        raise ValueError("args need 'runs' (a list of run directories) and 'admin_token_sha256'")
    keys = ("replicas", "cpus_per_replica", "form", "batch_wait_ms")
    scaling = {"autoscale": tuple(args["autoscale"])} if args.get("autoscale") else {}
    limits = Limits(**({"max_rows": args["max_rows"]} if "max_rows" in args else {}))
    options = ServeOptions(**{key: args[key] for key in keys if key in args}, **scaling, limits=limits)
    options.check()
    return service_app(list(args["runs"]), args["admin_token_sha256"], options, deployed_by=BY_CONFIG)
