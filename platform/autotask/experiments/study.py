"""Studies: named sets of runs (the built-in `paper` study or a JSON file), run concurrently on Ray.

Each run of a study becomes a run directory OUT/<name>-seed<k>/ exactly as `runners/train.py` writes it;
finished runs are skipped on re-run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import ray

from autotask.data.validate import validate_dataset
from autotask.location import Location, check_reachable
from autotask.storage import atomic_write_text
from autotask.training.config import RunConfig, TrainingConfig
from autotask.training.run import is_finished, train_run
from autotask.training.session import ensure_ray

RUN_TASK_CPUS = 0.25  # the task that drives one run; its Train workers ask for their own CPUs


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
    StudyRun("lightgbm", "lightgbm", "LightGBM"),
]
# The headline comparison only: AutoTask, the DNN baseline, task-id dropout and LightGBM (real data, quick looks).
COMPACT_STUDY = [PAPER_STUDY[i] for i in (0, 1, 4, 7)]
# Facet 1's numeric tokenizers (Gorishniy et al. 2022) against the paper's shared embedding, with the DNN baseline.
TOKENIZER_STUDY = [PAPER_STUDY[0], PAPER_STUDY[1]] + [
    StudyRun(f"autotask-{name}", "autotask", f"AutoTask, {name} tokenizer", {"tokenizer": name})
    for name in ("per-feature", "periodic", "piecewise")
]
STUDIES = {"paper": PAPER_STUDY, "compact": COMPACT_STUDY, "tokenizers": TOKENIZER_STUDY}


def load_study(name_or_path: str) -> list[StudyRun]:
    """A built-in study by name, or a JSON file: {"runs": [{"name", "model", "variant", "model_config", ...}]}."""
    if name_or_path in STUDIES:
        return STUDIES[name_or_path]
    path = Path(name_or_path)
    if not path.exists():
        raise ValueError(f"unknown study {name_or_path!r}: not one of {sorted(STUDIES)} and no such file")
    raw = json.loads(path.read_text())
    try:
        return [StudyRun(**entry) for entry in raw["runs"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: a study file is {{\"runs\": [{{\"name\", \"model\", ...}}]}} ({exc})") from exc


def study_configs(runs: list[StudyRun], data: str, seeds: int, training: dict) -> dict[str, RunConfig]:
    """Run directory name -> run config, for every run and seed."""
    configs = {}
    for entry in runs:
        for seed in range(seeds):
            configs[f"{entry.name}-seed{seed}"] = RunConfig(
                data=data, model=entry.model, run_name=entry.name, variant=entry.variant or entry.name, seed=seed,
                model_config=dict(entry.model_config), training=TrainingConfig(**{**training, **entry.training}),
            )
    return configs


@ray.remote(num_cpus=RUN_TASK_CPUS)
def _train_remote(config: dict, run_dir: str, storage: str | None = None) -> str:
    train_run(RunConfig.from_dict(config), run_dir, storage=storage)
    return run_dir


def run_study(configs: dict[str, RunConfig], out: str | Path, concurrent: int, address: str | None = None,
              on_done=None, storage: str | None = None) -> list[str]:
    """Train every unfinished run, at most `concurrent` at a time; returns the run directories.

    Runs are Ray tasks on any node; with `storage` (a shared path or URI) each run keeps its checkpoints in
    STORAGE/NAME and publishes its results to STORAGE/NAME/results, wherever it ran.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "study.json", json.dumps({k: v.to_dict() for k, v in configs.items()}, indent=2))
    for config in {c.data for c in configs.values()}:
        validate_dataset(config).raise_if_invalid()  # before Ray starts
    if storage:
        check_reachable(storage)
    pending = [(name, c) for name, c in configs.items() if not is_finished(out / name, c)]
    ensure_ray(address)
    running = []
    while pending or running:
        while pending and len(running) < concurrent:
            name, config = pending.pop(0)
            run_storage = (Location.of(storage) / name).uri if storage else None
            running.append(_train_remote.remote(config.to_dict(), str(out / name), run_storage))
        done, running = ray.wait(running, num_returns=1)
        finished = ray.get(done[0])
        if on_done:
            on_done(finished)
    return [str(out / name) for name in configs]
