"""The quality suite: test ROC AUC of every model on several datasets and training seeds, mean +- std.

Datasets: the simulator's default build (seed 0), two builds with other simulator seeds, and Home Depot when
`../shared/data/home-depot` has it. Models: AutoTask (the default recipe and `--preset paper`), the DNN baseline
(general and task branches: one run, two score columns), LightGBM and, on simulated data, the oracle. Every run is a
real `train_run` (Ray Train, scored under the run's protocol), kept under WORKDIR, so an interrupted benchmark
resumes where it stopped. Configs are the defaults: nothing is chosen on test.

It also scores each trained AutoTask run's unseen-scenario rows under every rule for id 0, and the same weights with
facet-2 blocks of 1, 4 and 16 rows of one scenario (benchmarks/unseen_scoring.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from autotask.benchmarks.machine import machine_info
from autotask.benchmarks.stats import finite_mean
from autotask.benchmarks.unseen_scoring import block_rows, unseen_rule_rows, with_unseen_statistics
from autotask.config import PRESETS, RunConfig, TrainingConfig
from autotask.data.build import build_simulated
from autotask.data.contract import ORACLE_P, SCENARIO, SPLIT
from autotask.data.manifest import Manifest
from autotask.data.simulator import SimulatorConfig
from autotask.evaluation.metrics import binary_aucs
from autotask.runtime.driver import start_cluster
from autotask.runtime.run import train_run
from autotask.serving.model import load_run_model
from autotask.storage import atomic_write_text
from autotask.training.outputs import read_eval_frame

ORACLE = "oracle"
SECONDS_FILE = "bench_seconds.json"  # wall time of the run's training, kept beside it for resumed benchmarks


@dataclass(frozen=True)
class QualityModel:
    """One row of the table: a run (kind, preset, seed) read through one score column."""

    name: str
    kind: str
    score_col: str = "score"
    preset: str = "default"
    model_config: tuple = ()  # (field, value) pairs over the kind's defaults: an ablation switch
    label: str = ""  # the run folder's suffix for a model_config variant

    @property
    def run_name(self) -> str:
        name = self.kind if self.preset == "default" else f"{self.kind}-{self.preset}"
        return f"{name}-{self.label}" if self.label else name


MODELS = (
    QualityModel("AutoTask", "autotask"),
    QualityModel("AutoTask, scenario profile (in-context)", "autotask", score_col="score_context"),
    QualityModel("AutoTask, paper preset", "autotask", preset="paper"),
    QualityModel("DNN general branch", "dnn"),
    QualityModel("DNN task branch", "dnn", score_col="score_task"),
    QualityModel("LightGBM", "lightgbm"),
)


@dataclass
class QualityConfig:
    """What the suite trains. `training` overrides every run's recipe (the quick test's short schedule)."""

    sim_seeds: tuple[int, ...] = (0, 1, 2)
    seeds: tuple[int, ...] = (0, 1, 2)
    rows: int = SimulatorConfig().rows
    home_depot: bool = True
    models: tuple[str, ...] = tuple(m.name for m in MODELS)
    training: dict = field(default_factory=dict)


def build_datasets(config: QualityConfig, workdir: Path) -> dict[str, Path]:
    """name -> dataset folder; simulated builds are reused when identical, Home Depot is built once when present."""
    datasets = {}
    for seed in config.sim_seeds:
        build_simulated(SimulatorConfig(rows=config.rows, seed=seed), workdir / f"sim-{seed}").raise_if_invalid()
        datasets[f"simulator seed {seed}"] = workdir / f"sim-{seed}"
    if config.home_depot:
        from autotask.data.text import build_text_dataset, home_depot_spec  # the text stack only when needed
        from autotask.data.text.home_depot import DEFAULT_INPUT

        out = workdir / "home-depot"
        if DEFAULT_INPUT.exists() and not (out / "manifest.json").exists():
            build_text_dataset(home_depot_spec(), out).raise_if_invalid()
        if DEFAULT_INPUT.exists():
            datasets["Home Depot"] = out
    return datasets


def run_config(data: Path, model: QualityModel, seed: int, overrides: dict) -> RunConfig:
    training = TrainingConfig(**{**PRESETS[model.preset], **overrides})
    return RunConfig(data=str(data), model=model.kind, run_name=model.run_name, seed=seed, training=training,
                     model_config=dict(model.model_config))


def trained_run(data: Path, model: QualityModel, seed: int, run_dir: Path, overrides: dict) -> float:
    """Train (or reuse) one run; returns its training wall seconds (recorded when it was trained)."""
    seconds_file = run_dir / SECONDS_FILE
    started = time.perf_counter()
    train_run(run_config(data, model, seed, overrides), run_dir)
    if not seconds_file.exists():
        atomic_write_text(seconds_file, json.dumps({"seconds": time.perf_counter() - started}))
    return json.loads(seconds_file.read_text())["seconds"]


def test_aucs(predictions: pd.DataFrame, score_col: str) -> dict[str, dict[str, float]]:
    """{'seen': {scenario: ROC AUC}, 'unseen': {...}} on the test split."""
    test = predictions[predictions[SPLIT] == "test"]
    out: dict[str, dict[str, float]] = {"seen": {}, "unseen": {}}
    for (scenario, seen), group in test.groupby([SCENARIO, "seen"], sort=True):
        out["seen" if seen else "unseen"][scenario] = binary_aucs(group["label"], group[score_col])[0]
    return out


def run_records(datasets: dict[str, Path], config: QualityConfig, workdir: Path, progress=print) -> list[dict]:
    """One record per (dataset, model, seed): per-scenario test ROC AUCs and wall seconds; the oracle's too."""
    records = []
    models = [m for m in MODELS if m.name in config.models]
    for dataset, data in datasets.items():
        for seed in config.seeds:
            for model in models:
                run_dir = workdir / "runs" / data.name / f"{model.run_name}-seed{seed}"
                progress(f"{dataset}: {model.name}, seed {seed}")
                seconds = trained_run(data, model, seed, run_dir, config.training)
                predictions = pd.read_parquet(run_dir / "predictions.parquet")
                records.append({"dataset": dataset, "model": model.name, "seed": seed, "seconds": seconds,
                                "run": str(run_dir), **test_aucs(predictions, model.score_col)})
                if model is models[0] and ORACLE_P in predictions.columns:
                    oracle = predictions.assign(oracle_score=predictions[ORACLE_P].astype(float))
                    records.append({"dataset": dataset, "model": ORACLE, "seed": seed, "seconds": 0.0,
                                    **test_aucs(oracle, "oracle_score")})
    return records


def summarise(records: list[dict]) -> list[dict]:
    """Mean +- std over seeds of each run's mean seen and mean unseen test ROC AUC (in %), per dataset and model."""
    frame = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "seed": r["seed"], "seconds": r["seconds"],
                           "seen": 100 * finite_mean(r["seen"].values()),
                           "unseen": 100 * finite_mean(r["unseen"].values()),
                           **{f"unseen {k}": 100 * v for k, v in r["unseen"].items()}} for r in records])
    rows = []
    for (dataset, model), group in frame.groupby(["dataset", "model"], sort=False):
        row = {"dataset": dataset, "model": model, "seeds": len(group), "seconds": float(group["seconds"].mean())}
        for column in [c for c in group.columns if c in ("seen", "unseen") or c.startswith("unseen ")]:
            row[column] = float(group[column].mean())
            row[f"{column} std"] = float(group[column].std(ddof=1)) if len(group) > 1 else 0.0
        rows.append(row)
    return rows


def autotask_records(datasets: dict[str, Path], config: QualityConfig, workdir: Path) -> tuple[list, list]:
    """Over every trained default AutoTask run: the unseen-rule comparison and the in-context block sizes."""
    rules, blocks = [], []
    for dataset, data in datasets.items():
        manifest = Manifest.from_dict(json.loads((data / "manifest.json").read_text()))
        frame, inputs = read_eval_frame(str(data), manifest)
        for seed in config.seeds:
            run_dir = workdir / "runs" / data.name / f"autotask-seed{seed}"
            model = with_unseen_statistics(load_run_model(run_dir), data, manifest)
            blocks += [{"dataset": dataset, "seed": seed, **row} for row in block_rows(model, frame, inputs)]
            if manifest.unseen:
                rules += [{"dataset": dataset, "seed": seed, **row} for row in unseen_rule_rows(model, frame, inputs)]
    return rules, blocks


def check_targets(summary: list[dict]) -> list[dict]:
    """The issue's targets, per dataset: seen >= LightGBM and within 1 point of the oracle; unseen >= LightGBM with
    std <= 0.5 over seeds."""
    table = {(row["dataset"], row["model"]): row for row in summary}
    targets = []
    for dataset in dict.fromkeys(row["dataset"] for row in summary):
        ours, peer, oracle = (table.get((dataset, name)) for name in ("AutoTask", "LightGBM", ORACLE))
        if ours is None or peer is None:
            continue
        checks = [(f"{dataset}: seen AutoTask >= LightGBM", ours["seen"], peer["seen"], ours["seen"] >= peer["seen"])]
        if oracle is not None:
            checks.append((f"{dataset}: seen AutoTask within 1.0 of the oracle", ours["seen"], oracle["seen"],
                           oracle["seen"] - ours["seen"] <= 1.0))
        if ours["unseen"] == ours["unseen"]:
            checks.append((f"{dataset}: unseen AutoTask >= LightGBM", ours["unseen"], peer["unseen"],
                           ours["unseen"] >= peer["unseen"]))
            checks.append((f"{dataset}: unseen AutoTask std <= 0.5", ours["unseen std"], 0.5,
                           ours["unseen std"] <= 0.5))
        targets += [{"target": name, "measured": f"{a:.1f} vs {b:.1f}", "met": bool(met)} for name, a, b, met in checks]
    return targets


def run_quality_benchmarks(config: QualityConfig, workdir: str | Path, progress=print) -> dict:
    """Build the datasets, train every (dataset, model, seed), summarise; the result dict the runner writes."""
    workdir = Path(workdir)
    started = time.perf_counter()
    datasets = build_datasets(config, workdir)
    start_cluster()
    records = run_records(datasets, config, workdir, progress)
    summary = summarise(records)
    rules, blocks = autotask_records(datasets, config, workdir) if "AutoTask" in config.models else ([], [])
    return {"suite": "quality", "machine": machine_info("cpu"), "config": asdict(config),
            "datasets": {name: str(path) for name, path in datasets.items()}, "records": records,
            "summary": summary, "unseen_rules": rules, "in_context_blocks": blocks, "targets": check_targets(summary),
            "seconds": round(time.perf_counter() - started, 1)}


def quick_config() -> QualityConfig:
    """One small simulated dataset, one seed, a short schedule: the suite's own test (about a minute)."""
    return replace(QualityConfig(), sim_seeds=(0,), seeds=(0,), rows=6_000, home_depot=False,
                   models=("AutoTask", "LightGBM"), training={"epochs_pretrain": 1, "epochs_finetune": 1})


def run_quality_suite(bench_config, workdir: str | Path) -> dict:
    """`runners/bench.py --suite quality`: the full configuration, or the quick one with `--quick`."""
    return run_quality_benchmarks(quick_config() if bench_config.is_quick else QualityConfig(), workdir)
