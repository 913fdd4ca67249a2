"""The platform as a Python library: the command line's operations on the same code, with the same checks.

    from autotask import api

    api.simulate("data/sim", rows=20_000)
    metrics = api.train("data/sim", "autotask", "runs/autotask", epochs_finetune=10)
    api.compare("data/sim", "compact", "runs/compact", seeds=3)
    report = api.report("runs/compact", baseline="dnn", out="reports/compact")

Bad input raises ValueError subclasses (ContractError, InputError, RunDirError) naming the problem, before Ray starts.
Local paths are made absolute first: Ray's workers may run in another working directory than the caller.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autotask.config import PRESETS, RunConfig, TrainingConfig
from autotask.data.build import build_simulated
from autotask.data.simulator import SimulatorConfig
from autotask.data.validate import ValidationReport, validate_dataset
from autotask.experiments.study import load_study, run_study, study_configs
from autotask.preflight import InputError, check_output_dir
from autotask.reporting.checks import check_out
from autotask.reporting.models import select_models
from autotask.reporting.report import Report, build_report, write_report
from autotask.reporting.tables import ReportOptions
from autotask.runtime.driver import Shell
from autotask.runtime.run import train_run


def _absolute(path: str | Path) -> str:
    return str(path) if "://" in str(path) else str(Path(path).expanduser().resolve())


def simulate(out: str | Path, rows: int = SimulatorConfig().rows, seed: int = 0, overwrite: bool = False
             ) -> ValidationReport:
    """Build (or reuse an identical) simulated dataset at `out`; `runners/build_data.py simulate`."""
    return build_simulated(SimulatorConfig(rows=rows, seed=seed), out, overwrite=overwrite).raise_if_invalid()


def validate(data: str | Path) -> ValidationReport:
    """Check a dataset against the contract; `.ok`, `.errors`, `.summary`; `runners/build_data.py validate`."""
    return validate_dataset(data)


def train(data: str | Path, model: str = "autotask", out: str | Path = "runs/run", *, seed: int = 0,
          preset: str = "default", model_config: dict | None = None, variant: str = "", fresh: bool = False,
          address: str | None = None, storage: str | None = None, **training) -> pd.DataFrame:
    """One training run (resumed or reused like `runners/train.py`); `training`: TrainingConfig fields
    (epochs_finetune=10, workers=2, ...) over the preset. Returns the per-scenario metrics frame."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    check_output_dir(out, data=str(data))
    run = RunConfig(data=_absolute(data), model=model, seed=seed, variant=variant,
                    model_config=dict(model_config or {}), training=TrainingConfig(**{**PRESETS[preset], **training}))
    return train_run(run, _absolute(out), address=address, storage=storage, fresh=fresh)


def compare(data: str | Path, study: str = "paper", out: str | Path = "runs/study", *, seeds: int = 1,
            concurrent: int = 1, fresh: bool = False, address: str | None = None, storage: str | None = None,
            **training) -> list[str]:
    """A study (built-in name or JSON file) over `seeds` seeds, like `runners/compare.py`; returns run dirs."""
    check_output_dir(out, data=str(data))
    configs = study_configs(load_study(str(study)), _absolute(data), seeds, training)
    return run_study(configs, _absolute(out), concurrent, Shell(address=address, storage=storage), fresh=fresh)


def report(study: str | Path | None = None, baseline: str | list[str] = "dnn", out: str | Path = "reports/report",
           *, runs: list[str] = (), oracle: bool = False, overwrite: bool = False, **options) -> Report:
    """Per-scenario tables against `baseline` (run names of `study`, or run directories), written to `out` like
    `runners/report.py`; `options`: ReportOptions fields (split, resamples, seed, level, allow_partial)."""
    try:
        report_options = ReportOptions(**options)
    except TypeError as exc:
        raise InputError(f"report options: {exc} (known: split, resamples, seed, level, allow_partial)") from exc
    check_out(out, overwrite)
    baselines = [baseline] if isinstance(baseline, str) else list(baseline)
    models, base = select_models(list(runs), baselines, str(study) if study else None, "score", None, oracle)
    built = build_report(models, base, report_options)
    write_report(built, out, overwrite=overwrite)
    return built
