"""Build steps behind `runners/build_data.py`: simulate into a staging folder, validate, publish."""

from __future__ import annotations

import json
from pathlib import Path

from rich.progress import Progress

from autotask.data.contract import MANIFEST_NAME, ContractError
from autotask.data.output import check_output
from autotask.data.simulator import SimulatorConfig, write_simulated
from autotask.data.validate import ValidationReport, validate_dataset
from autotask.data.worlds import WorldsConfig, generate_world, world_name
from autotask.location import Location
from autotask.storage import atomic_write_text, discard_dir, publish_dir, staging_dir


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


WORLDS_RECORD = "worlds.json"


def build_worlds(config: WorldsConfig, out: str | Path, overwrite: bool = False) -> list[ValidationReport]:
    """Generate `config.count` worlds into OUT/world-NN/ (each a validated contract dataset) and OUT/worlds.json
    (every world's drawn mechanisms); an identical existing build is reused. Nothing appears under OUT unless every
    world validates."""
    out = Path(out)
    problems = config.problems()
    if problems:
        raise ContractError(problems)
    if not overwrite and recorded_worlds_source(out) == config.source():
        return [validate_dataset(out / world_name(i)) for i in range(config.count)]
    check_output(out, overwrite=True)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists and holds something else than these worlds (pass --overwrite "
                              "to replace it, or choose another --out)")
    staging = staging_dir(out)
    try:
        specs = []
        with Progress(transient=True) as progress:
            task = progress.add_task(f"generating {config.count} worlds", total=config.count)
            for index in range(config.count):
                frame, manifest, spec = generate_world(config, index)
                folder = staging / world_name(index)
                (folder / "data").mkdir(parents=True)
                frame.to_parquet(folder / "data" / "part-00000.parquet", index=False)
                manifest.write(folder)
                report = validate_dataset(folder)
                if not report.ok:
                    raise ContractError(report.errors)
                specs.append(spec)
                progress.advance(task)
        atomic_write_text(staging / WORLDS_RECORD, json.dumps({"source": config.source(), "worlds": specs}, indent=1))
    except BaseException:
        discard_dir(staging)
        raise
    publish_dir(staging, out, overwrite=overwrite)
    return [validate_dataset(out / world_name(i)) for i in range(config.count)]


def recorded_worlds_source(out: str | Path) -> dict | None:
    """The generator configuration a worlds build in OUT was drawn with (None when OUT holds none)."""
    try:
        return json.loads((Path(out) / WORLDS_RECORD).read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None
