"""Build steps behind `runners/build_data.py`: simulate into a staging folder, validate, publish."""

from __future__ import annotations

import json
from pathlib import Path

from rich.progress import Progress

from autotask.data.contract import MANIFEST_NAME, ContractError
from autotask.data.output import check_output
from autotask.data.simulator import SimulatorConfig, write_simulated
from autotask.data.validate import ValidationReport, validate_dataset
from autotask.location import Location
from autotask.storage import discard_dir, publish_dir, staging_dir


def existing_source(out: Path) -> dict | None:
    manifest = out / MANIFEST_NAME
    if not manifest.exists():
        return None
    try:
        return json.loads(manifest.read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None


def build_simulated(config: SimulatorConfig, out: str | Path, overwrite: bool = False) -> ValidationReport:
    """Simulate, validate and publish `out`; an identical existing build is reused, not rebuilt."""
    out = Path(out)
    wanted = {"kind": "simulator", "rows": config.rows, "seed": config.seed, "chunk_rows": config.chunk_rows}
    if not overwrite and existing_source(out) == wanted:
        return validate_dataset(out)
    check_output(out, overwrite=True)  # a file, or a path under a file: refused whatever --overwrite says
    if out.exists() and not overwrite:  # fail before minutes of simulation, not after
        raise FileExistsError(f"{out} already exists and holds a different build (pass --overwrite to replace it)")
    staging = staging_dir(out)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"simulating {config.rows:,} rows", total=config.rows)
            write_simulated(config, staging, progress=lambda n: progress.advance(task, n))
        report = validate_dataset(staging)
        if not report.ok:
            raise ContractError(report.errors)
    except BaseException:
        discard_dir(staging)
        raise
    publish_dir(staging, out, overwrite=overwrite)
    return validate_dataset(out) if config.rows <= 1_000_000 else _moved(report, staging, out)


def _moved(report: ValidationReport, staging: Path, out: Path) -> ValidationReport:
    """The staging folder's report, re-pointed at the published folder (saves re-reading a large build)."""
    report.path = Location.of(out)
    report.files = [report.path / Path(f.path).relative_to(Path(staging).absolute()).as_posix() for f in report.files]
    return report
