"""One training run end to end (the driver sequence of runtime/driver.py): validate the data, train on Ray, score,
calibrate, write RUN_DIR."""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import asdict, replace
from functools import cache, partial
from pathlib import Path

import pandas as pd
import torch

from autotask.config import RunConfig
from autotask.data.contract import ContractError
from autotask.data.fingerprint import dataset_fingerprint, describe_change
from autotask.data.manifest import Manifest, load_manifest
from autotask.data.validate import validate_dataset
from autotask.flat import flat_config
from autotask.location import Location
from autotask.models.language import language_width, reads_language
from autotask.models.registry import DATA_FIXED_FIELDS, build_model, get_kind, model_config, stored_model_config
from autotask.provenance import provenance
from autotask.runtime.driver import Finished, Shell, check_cluster, drive, run_resources
from autotask.runtime.lightgbm_task import train_lightgbm
from autotask.runtime.local import FEEDS, execution, feed, fit_in_process, run_datasets
from autotask.runtime.ray_trainer import TRAIN_NAME, fit, storage_path
from autotask.runtime.scoring import score_eval_splits
from autotask.storage import atomic_write_text
from autotask.training import outputs
from autotask.training.feeds import read_memory_splits
from autotask.training.gate_calibration import calibrate_gate_after_training
from autotask.training.gate_fit import fit_gate_after_training

DATA_RECORD = "data.json"  # RUN_DIR/data.json: the fingerprint of the data the run was trained on


def is_finished(run_dir: str | Path, run: RunConfig) -> bool:
    """A run is finished when its metrics exist and it is the run asked for (`holds_run`)."""
    return (Path(run_dir) / "metrics.parquet").exists() and holds_run(run_dir, run)


def holds_run(run_dir: str | Path, run: RunConfig) -> bool:
    """Whether the run directory's saved run is `run`: its config.json, and its saved model config against the one
    `run` builds today."""
    config = Path(run_dir) / "config.json"
    return config.exists() and RunConfig.read(config) == run and not model_config_changes(run_dir, run)


def model_config_changes(run_dir: Path, run: RunConfig) -> str:
    """'model.task_tower 0 -> 8' when the run directory's saved model config differs from the one `run` builds
    today (a default changed since it was trained); '' when equal or nothing is saved."""
    saved_file = Path(run_dir) / "model" / "model_config.json"
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    if saved.get("kind") != run.model or not get_kind(run.model).is_torch:
        return ""
    old = asdict(stored_model_config(saved))
    fixed = {name: old[name] for name in DATA_FIXED_FIELDS if name in old}
    new = asdict(get_kind(run.model).config_cls(**{**run.model_config, **fixed}))
    return ", ".join(f"model.{change}" for change in changed_fields(old, new))


def check_compatible(run_dir: Path, run: RunConfig, manifest: Manifest) -> None:
    """Refuse to resume into a run directory made for other data or another config (before Ray starts)."""
    old_manifest = run_dir / "model" / "manifest.json"
    if old_manifest.exists():
        old = load_manifest(old_manifest.parent)
        if old.features != manifest.features or old.scenarios != manifest.scenarios:
            raise ContractError(
                f"{old_manifest}: the checkpoint was trained on d={old.d} features {old.features} and scenarios "
                f"{old.scenarios}, but {run.data} has d={manifest.d} features {manifest.features} and scenarios "
                f"{manifest.scenarios}"
            )
    config = run_dir / "config.json"
    if config.exists() and (old_run := RunConfig.read(config)) != run:
        raise ValueError(f"{config}: {run_dir} holds a run with a different config ({config_changes(old_run, run)}); "
                         "use another --out or --fresh")
    if changes := model_config_changes(run_dir, run):
        raise ValueError(f"{run_dir} holds a run trained with other model defaults ({changes}); "
                         "use another --out or --fresh")


def config_changes(old: RunConfig, new: RunConfig, limit: int = 4) -> str:
    """'training.lr_head 0.002 -> 0.01, seed 0 -> 1' between two run configs (provenance aside)."""
    changed = [change for change in changed_fields(flat_config(old.to_dict()), flat_config(new.to_dict()))
               if not change.startswith("provenance.")]
    return ", ".join(changed[:limit]) + (f" (+{len(changed) - limit} more)" if len(changed) > limit else "")


def changed_fields(old: dict, new: dict) -> list[str]:
    """'key old -> new' for every key whose value differs ('absent' where one side lacks it), sorted by key."""
    return [f"{k} {old.get(k, 'absent')} -> {new.get(k, 'absent')}" for k in sorted(set(old) | set(new))
            if old.get(k, "absent") != new.get(k, "absent")]


def check_data_unchanged(run_dir: Path, run: RunConfig, fingerprint: dict) -> None:
    """Refuse a finished or unfinished run whose dataset changed since it started (before Ray starts)."""
    record = run_dir / DATA_RECORD
    if not record.exists():
        return
    old = json.loads(record.read_text())
    if old.get("digest") != fingerprint["digest"]:
        raise ContractError(
            f"{run_dir}: its data {run.data} changed since the run started (fingerprint {old.get('digest')} then, "
            f"{fingerprint['digest']} now: {describe_change(old, fingerprint)}); its results would be stale. "
            "Retrain with --fresh (or remove the run directory), or use another --out"
        )


def record_data(run_dir: Path, fingerprint: dict) -> None:
    if not (run_dir / DATA_RECORD).exists():
        atomic_write_text(run_dir / DATA_RECORD, json.dumps(fingerprint, indent=2, sort_keys=True))


def preflight(run: RunConfig, run_dir: str | Path, address: str | None = None, storage: str | None = None,
              extra_cpus: float = 0.0, checked: tuple | None = None, fresh: bool = False):
    """Everything checked before Ray starts or a file is written: the data, the configs, the run directory (unless
    `fresh`: it is to be deleted), the cluster. Returns (validation report, data fingerprint); pass them back as
    `checked` for more runs on the same data."""
    validated = check_run(run, Path(run_dir), checked, fresh)
    check_cluster(address, run_resources(run.training, run.model, extra_cpus), storage)
    return validated


def check_run(run: RunConfig, run_dir: Path, checked: tuple | None = None, fresh: bool = False):
    """The run's own checks (no Ray, nothing written): its data, its config, its run directory's earlier run."""
    report, fingerprint = checked or (validate_dataset(run.data).raise_if_invalid(), dataset_fingerprint(run.data))
    check_run_config(run, report.manifest)
    if not fresh:
        check_compatible(run_dir, run, report.manifest)
        check_data_unchanged(run_dir, run, fingerprint)
    return report, fingerprint


def check_run_config(run: RunConfig, manifest: Manifest) -> None:
    """Build the typed model config and check the scoring protocol against it, before Ray starts (ValueError)."""
    kind = get_kind(run.model)
    if not kind.is_torch:
        language_width(run.model_config, manifest)
        problems = kind.check_params(run.model_config, {}, manifest.d) if kind.check_params else []
        if problems:
            raise ValueError(f"{run.model} model config {run.model_config}: " + "; ".join(problems))
        return
    typed = model_config(run.model, run.model_config, manifest)
    unknown = sorted(set(run.training.lr_groups) - set(kind.lr_groups))
    if unknown:
        raise ValueError(f"lr_groups names {unknown}, but {run.model}'s parameter groups are {list(kind.lr_groups)}")
    block_size = getattr(typed, "block_size", None)
    if block_size is not None and block_size > run.training.batch_size:
        raise ValueError(f"block_size={block_size} exceeds batch_size={run.training.batch_size}: facet 2's blocks are "
                         "cut from one minibatch, so positions past the batch size would never be trained")
    if block_size is not None and run.training.eval_block_size > block_size:
        raise ValueError(f"eval_block_size={run.training.eval_block_size} exceeds the model's block_size={block_size} "
                         "(facet 2 has positions for block_size rows)")


def train_run(
    run: RunConfig, run_dir: str | Path, address: str | None = None, storage: str | None = None, fresh: bool = False,
    progress=None,
) -> pd.DataFrame:
    """Train (or resume, or reuse when finished) one run; returns its metrics frame.

    `storage`: a shared path or URI for Ray's checkpoints (STORAGE/train); the finished run is copied to
    STORAGE/results as well. `fresh`: delete RUN_DIR first (once every check has passed). `progress`: an
    autotask.progress.RunProgress to show the run's epochs on (label: run.run_name). One writer per run directory:
    a second command on it is refused (autotask.run_lock).
    """
    run_dir = Path(run_dir)
    shell = Shell(run_resources(run.training, run.model), address, storage)
    return drive(shell, validate=lambda: check_run(run, run_dir, fresh=fresh),
                 prepare=lambda validated: _prepare_run(run, run_dir, storage, fresh, *validated),
                 work=lambda prepared: _train(*prepared, run_dir, storage, progress), lock=run_dir, publish=run_dir,
                 uses_ray=lambda prepared: _uses_ray(prepared[0]))


def _prepare_run(run: RunConfig, run_dir: Path, storage, fresh: bool, report, fingerprint):
    """Before Ray: a fresh start, a finished run reused, or the run's config and data record written."""
    if fresh:
        discard_run(run_dir, storage)
    if is_finished(run_dir, run):
        record_data(run_dir, fingerprint)  # a run written before fingerprints: adopts today's data
        return Finished(pd.read_parquet(run_dir / "metrics.parquet"))
    run_dir.mkdir(parents=True, exist_ok=True)
    run = replace(run, provenance={**(run.provenance or provenance(fingerprint)),  # a study's driver may have set it
                                   "execution": execution(run, storage),
                                   **({"feed": feed(run, report.manifest, split_rows(report), storage)}
                                      if get_kind(run.model).is_torch else {})})
    atomic_write_text(run_dir / "config.json", run.to_json())
    record_data(run_dir, fingerprint)
    return run, report


def _uses_ray(run: RunConfig) -> bool:
    """Everything but a torch run fed from memory (a 1-worker CPU run on small data: runtime/local.py) needs Ray; the
    feed was chosen once, by `_prepare_run`, and recorded in the run's provenance."""
    return run.provenance.get("feed") != FEEDS[0]


def _train(run: RunConfig, report, run_dir: Path, storage, progress) -> pd.DataFrame:
    manifest = report.manifest
    if not get_kind(run.model).is_torch:  # LightGBM: one Ray task
        predictions, model_files = train_lightgbm(run, manifest, run_dir)
    else:
        predictions, model_files = _train_torch(run, manifest, run_dir, report, storage, progress)
    predictions, calibration = outputs.calibrate(predictions, run.training.calibration)
    return outputs.write_results(run_dir, predictions, calibration, model_files, manifest, run.protocol)


def discard_run(run_dir: Path, storage: str | None = None) -> None:
    """--fresh: the run directory and, with --storage, the run's checkpoints there (fit() would resume from them)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    if storage:
        checkpoints = Location.of(storage) / TRAIN_NAME
        if checkpoints.exists():
            checkpoints.filesystem.delete_dir(checkpoints.path)


def split_rows(report) -> dict[str, int]:
    """Rows per split, from a validation report."""
    return report.summary.groupby("split")["rows"].sum().to_dict()


def _fit_after_training(model, run: RunConfig, manifest: Manifest) -> dict:
    """The gate's refit (`gate_fit="refit"`) and recalibration (`profile="em"`) after training, each only when the
    config asks; the history records of those that ran. Both read the run's splits, read once and freed on return."""
    read_splits = cache(partial(read_memory_splits, run.data, manifest, language=reads_language(model.config)))
    records = {"gate_fit": fit_gate_after_training(model, read_splits, run.seed),
               "gate_calibration": calibrate_gate_after_training(model, read_splits, run.seed)}
    return {name: record for name, record in records.items() if record is not None}


def _train_torch(run: RunConfig, manifest: Manifest, run_dir: Path, report, storage: str | None, progress=None):
    counts = split_rows(report)
    datasets = run_datasets(run, manifest, counts, storage)
    model = build_model(run.model, run.model_config, manifest)
    with _final_checkpoint(run, manifest, datasets, counts, run_dir, storage, progress) as directory:
        model.load_state_dict(torch.load(Path(directory) / "best_model.pt", weights_only=True))
        history = json.loads((Path(directory) / "state.json").read_text())
    history.update(_fit_after_training(model, run, manifest))
    staging = run_dir / "model" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), staging / "weights.pt")
    typed = model_config(run.model, run.model_config, manifest)
    (staging / "model_config.json").write_text(json.dumps({"kind": run.model, **asdict(typed)}, indent=2))
    (staging / "history.json").write_text(json.dumps(history, indent=2))
    predictions = score_eval_splits(run.data, manifest, run.model, run.model_config, model.state_dict(),
                                    run.training.eval_block_size, in_process=execution(run, storage) == "in-process")
    files = {name: staging / name for name in ("weights.pt", "model_config.json", "history.json")}
    return predictions, files


@contextlib.contextmanager
def _final_checkpoint(run: RunConfig, manifest: Manifest, datasets: dict, row_counts: dict, run_dir: Path,
                      storage: str | None, progress=None):
    """Train in this process (a 1-worker CPU run without --storage) or on Ray Train; yields the final checkpoint's
    folder."""
    if execution(run, storage) == "in-process":
        yield fit_in_process(run, manifest, datasets, row_counts, run_dir, progress)
        return
    result = fit(run, manifest, datasets, storage_path(run_dir, storage), row_counts, progress=progress)
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    with result.checkpoint.as_directory() as directory:
        yield directory
