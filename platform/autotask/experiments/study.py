"""Studies: named sets of runs (the built-in `paper` study or a JSON file), run concurrently on Ray.

Each run of a study becomes a run directory OUT/<name>-seed<k>/ exactly as `runners/train.py` writes it;
finished runs are skipped on re-run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import ray

from autotask import run_lock
from autotask.cli import read_json_object
from autotask.config import RunConfig, TrainingConfig
from autotask.data.fingerprint import dataset_fingerprint
from autotask.data.validate import validate_dataset
from autotask.location import Location
from autotask.preflight import InputError
from autotask.provenance import provenance
from autotask.runtime.driver import Shell, run_resources, start_cluster
from autotask.runtime.run import discard_run, is_finished, preflight, train_run
from autotask.storage import atomic_write_text

RUN_TASK_CPUS = 0.25  # the task that drives one run; its Train workers ask for their own CPUs
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a run name is a folder name under OUT: no separators, no ..


@dataclass
class StudyRun:
    """One entry of a study: a model kind, its switches and training overrides."""

    name: str
    model: str
    variant: str = ""
    model_config: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)


PAPER_STUDY = [
    StudyRun("autotask", "autotask", "AutoTask (task id encoding)", {"task_id_mode": "encoding"}),
    StudyRun("dnn", "dnn", "DNN baseline"),
    StudyRun("autotask-no-task-id", "autotask", "No task id", {"task_id_mode": "none"}),
    StudyRun("autotask-task-id-number", "autotask", "Task id number", {"task_id_mode": "number"}),
    StudyRun("autotask-task-id-dropout", "autotask", "Encoding + task-id dropout 0.15",
             {"task_id_mode": "encoding", "task_id_dropout": 0.15, "unseen": "slot"}),
    StudyRun("autotask-sum", "autotask", "Fusion by sum", {"fusion": "sum"}),
    StudyRun("autotask-full-attention", "autotask", "Full (unmasked) attention", {"attention": "full"}),
    StudyRun("autotask-paper-head", "autotask", "Paper head (no task towers)", {"task_tower": 0}),
    StudyRun("lightgbm", "lightgbm", "LightGBM"),
]
# The headline comparison only: AutoTask, the DNN baseline, task-id dropout and LightGBM (real data, quick looks).
COMPACT_STUDY = [PAPER_STUDY[i] for i in (0, 1, 4, 8)]
# Facet 1's numeric tokenizers (Gorishniy et al. 2022) against the paper's shared embedding, with the DNN baseline.
TOKENIZER_STUDY = [PAPER_STUDY[0], PAPER_STUDY[1]] + [
    StudyRun(f"autotask-{name}", "autotask", f"AutoTask, {name} tokenizer", {"tokenizer": name})
    for name in ("per-feature", "periodic", "piecewise")
]
# The multi-task baselines users expect (issue 15): the paper's pair, MMoE, PLE (CGC), STAR and LightGBM.
BASELINES_STUDY = [PAPER_STUDY[0], PAPER_STUDY[1], StudyRun("mmoe", "mmoe", "MMoE"),
                   StudyRun("ple", "ple", "PLE (CGC)"), StudyRun("star", "star", "STAR"), PAPER_STUDY[8]]
# Features only vs features + the query and offer embeddings (issue 16), for AutoTask, the DNN and LightGBM; needs a
# dataset built with --text-embeddings.
LANGUAGE = {"language": "embeddings"}
LANGUAGE_STUDY = [PAPER_STUDY[0], StudyRun("autotask-language", "autotask", "AutoTask + language", LANGUAGE),
                  PAPER_STUDY[1], StudyRun("dnn-language", "dnn", "DNN + language", LANGUAGE),
                  PAPER_STUDY[8], StudyRun("lightgbm-language", "lightgbm", "LightGBM + language (PCA)", LANGUAGE)]
STUDIES = {"paper": PAPER_STUDY, "compact": COMPACT_STUDY, "tokenizers": TOKENIZER_STUDY, "baselines": BASELINES_STUDY,
           "language": LANGUAGE_STUDY}


def load_study(name_or_path: str) -> list[StudyRun]:
    """A built-in study by name, or a JSON file: {"runs": [{"name", "model", "variant", "model_config", ...}]}."""
    if name_or_path in STUDIES:
        return STUDIES[name_or_path]
    path = Path(name_or_path)
    if not path.exists():
        raise InputError(f"--study {name_or_path}: not one of {sorted(STUDIES)} and no such file")
    raw = read_json_object(path, "--study")
    try:
        runs = [StudyRun(**entry) for entry in raw["runs"]]
    except (KeyError, TypeError) as exc:
        raise InputError(f"--study {path}: a study file is {{\"runs\": [{{\"name\", \"model\", ...}}]}} "
                         f"({type(exc).__name__}: {exc})") from exc
    if not runs:
        raise InputError(f"--study {path}: the study has no runs; list at least one under \"runs\"")
    check_run_names([run.name for run in runs], path)
    return runs


def check_run_names(names: list[str], source) -> None:
    """Run names become folders under OUT: each must be unique and a plain folder name."""
    for name in names:
        if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
            raise InputError(f"--study {source}: run name {name!r} is not a plain folder name (letters, digits, "
                             "'.', '_', '-'; no '/' or leading '.')")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"--study {source}: run name(s) {duplicates} appear more than once; names must be unique")


def study_configs(runs: list[StudyRun], data: str, seeds: int, training: dict) -> dict[str, RunConfig]:
    """Run directory name -> run config, for every run and seed."""
    if seeds < 1:
        raise InputError(f"--seeds {seeds}: at least 1 seed")
    configs = {}
    for entry in runs:
        try:
            overrides = TrainingConfig(**{**training, **entry.training})
        except TypeError as exc:
            raise InputError(f"study run {entry.name!r}: training {entry.training}: {exc}") from exc
        for seed in range(seeds):
            configs[f"{entry.name}-seed{seed}"] = RunConfig(
                data=data, model=entry.model, run_name=entry.name, variant=entry.variant or entry.name, seed=seed,
                model_config=dict(entry.model_config), training=overrides,
            )
    return configs


@ray.remote(num_cpus=RUN_TASK_CPUS)
def _train_remote(config: dict, run_dir: str, storage: str | None = None) -> str:
    train_run(RunConfig.from_dict(config), run_dir, storage=storage)
    return run_dir


def run_study(configs: dict[str, RunConfig], out: str | Path, concurrent: int, shell: Shell | None = None,
              on_done=None, fresh: bool = False, progress=None, record_extra: dict | None = None) -> list[str]:
    """Train every unfinished run, at most `concurrent` at a time; returns the run directories.

    Every run is checked before Ray starts (`fresh`: their directories are then deleted, to retrain).
    Runs are Ray tasks on any node; `shell`: where: its `address` (--address) and `storage` (a shared path or URI:
    each run keeps its checkpoints in STORAGE/NAME and publishes its results to STORAGE/NAME/results, wherever it
    ran); its `needs` are the largest run's, filled in here. `progress`: an autotask.progress.RunProgress told when
    each run starts and ends. `record_extra`: more entries for study.json (a tuned study's `tuning`). One writer per
    study folder: a second command on OUT is refused (autotask.run_lock).
    """
    out, shell = Path(out), shell or Shell()
    if concurrent < 1:
        raise InputError(f"--concurrent {concurrent}: at least 1 run at a time")
    if not configs:
        raise InputError("the study has no runs")
    checked = {}
    for name, config in configs.items():  # every run's data, config, resources and directory, before Ray starts
        if config.data not in checked:
            checked[config.data] = (validate_dataset(config.data).raise_if_invalid(), dataset_fingerprint(config.data))
        preflight(config, out / name, shell.address, shell.storage, RUN_TASK_CPUS, checked[config.data], fresh=fresh)
    with run_lock.hold(out):
        _start_folder(configs, out, checked, shell.storage, fresh, record_extra)
        largest = max((run_resources(c.training, c.model, RUN_TASK_CPUS) for c in configs.values()),
                      key=lambda needed: (needed.gpus, needed.cpus))
        _run_pending(configs, out, concurrent, checked, replace(shell, needs=largest), on_done, progress)
    return [str(out / name) for name in configs]


def _start_folder(configs: dict[str, RunConfig], out: Path, checked: dict, storage: str | None, fresh: bool,
                  record_extra: dict | None) -> None:
    """`fresh`: discard every run first; then study.json: provenance, the data's digests, every run's config."""
    for name in configs if fresh else ():
        discard_run(out / name, (Location.of(storage) / name).uri if storage else None)
    out.mkdir(parents=True, exist_ok=True)
    fingerprints = {data: checks[1] for data, checks in checked.items()}
    record = {"provenance": provenance(next(iter(fingerprints.values())) if len(fingerprints) == 1 else None),
              "data": {data: fingerprint["digest"] for data, fingerprint in fingerprints.items()},
              "runs": {name: config.to_dict() for name, config in configs.items()}, **(record_extra or {})}
    atomic_write_text(out / "study.json", json.dumps(record, indent=2))


def _run_pending(configs: dict[str, RunConfig], out: Path, concurrent: int, checked: dict, shell: Shell, on_done,
                 progress) -> None:
    """Start Ray for `shell.needs`, then every unfinished run as a Ray task, at most `concurrent` at a time."""
    pending = [(name, c) for name, c in configs.items() if not is_finished(out / name, c)]
    if progress:
        progress.expect(len(pending))
    start_cluster(shell.address, shell.needs, shell.console)
    storage, running = shell.storage, []
    while pending or running:
        while pending and len(running) < concurrent:
            name, config = pending.pop(0)
            run_storage = (Location.of(storage) / name).uri if storage else None
            # provenance from the driver: a Ray task sees no GPU and may run on another node
            recorded = replace(config, provenance=provenance(checked[config.data][1]))
            running.append(_train_remote.remote(recorded.to_dict(), str(out / name), run_storage))
            if progress:
                progress.run_started(name)
        done, running = ray.wait(running, num_returns=1)
        finished = ray.get(done[0])
        if progress:
            progress.run_finished(Path(finished).name)
        if on_done:
            on_done(finished)
