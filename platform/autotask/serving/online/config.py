"""The service as a Ray Serve config file (what `serve build` writes), for `serve deploy FILE` to a running cluster.

The runs are named by absolute path (every node must see them there: shared storage) and the admin token only by its
SHA-256. Checked against Serve's own schema before it is written.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from autotask.serving.online.deploy import APP_NAME, ServeOptions
from autotask.storage import atomic_write_text

BUILDER = "autotask.serving.online.deploy:app_builder"


def serve_config(runs: list[str], admin_token_sha256: str, options: ServeOptions) -> dict:
    from ray.serve.schema import ServeDeploySchema

    args = {"runs": [str(Path(run).resolve()) for run in runs], "admin_token_sha256": admin_token_sha256,
            "replicas": options.replicas, "cpus_per_replica": options.cpus_per_replica, "form": options.form,
            "batch_wait_ms": options.batch_wait_ms, "max_rows": options.limits.max_rows,
            **({"autoscale": list(options.autoscale)} if options.autoscale else {})}
    config = {"proxy_location": "HeadOnly", "http_options": {"host": options.host, "port": options.port},
              "applications": [{"name": APP_NAME, "route_prefix": "/", "import_path": BUILDER, "args": args}]}
    ServeDeploySchema.model_validate(config)
    return config


def write_serve_config(path: str | Path, config: dict) -> Path:
    atomic_write_text(path, "# autotask serve --write-config: deploy with `serve deploy FILE`\n"
                      + yaml.safe_dump(config, sort_keys=False))
    return Path(path)
