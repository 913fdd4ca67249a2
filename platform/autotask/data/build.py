"""Build steps behind `runners/build_data.py`: simulate into a staging folder, validate, publish."""

from __future__ import annotations

import json
from pathlib import Path

from rich.progress import Progress

from autotask.data.contract import MANIFEST_NAME, ContractError
from autotask.data.simulator import SimulatorConfig, write_simulated
from autotask.data.validate import ValidationReport, validate_dataset
from autotask.storage import publish_dir, staging_dir


def existing_source(out: Path) -> dict | None:
    manifest = out / MANIFEST_NAME
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text()).get("source")


def build_simulated(config: SimulatorConfig, out: str | Path, overwrite: bool = False) -> ValidationReport:
    """Simulate, validate and publish `out`; an identical existing build is reused, not rebuilt."""
    out = Path(out)
    wanted = {"kind": "simulator", "rows": config.rows, "seed": config.seed, "chunk_rows": config.chunk_rows}
    if not overwrite and existing_source(out) == wanted:
        return validate_dataset(out)
    staging = staging_dir(out)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"simulating {config.rows:,} rows", total=config.rows)
        write_simulated(config, staging, progress=lambda n: progress.advance(task, n))
    report = validate_dataset(staging)
    if not report.ok:
        raise ContractError(report.errors)
    publish_dir(staging, out, overwrite=overwrite)
    return validate_dataset(out) if config.rows <= 1_000_000 else _moved(report, out)


def _moved(report: ValidationReport, out: Path) -> ValidationReport:
    report.path = out
    return report
