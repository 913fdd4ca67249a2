"""Models of a report: runs grouped by (variant, score column); seeds of one variant form one model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from autotask.flat import flat_config
from autotask.reporting.runs import DEFAULT_SCORE, Run, RunDirError, load_run, split_column, study_run_dirs

ORACLE = "oracle_p"
# Config fields that may differ between seeds of one model: the seed, the run's name, the dataset (checked across
# all runs of a report on its own, see checks.py) and worker resources that cannot change a run's numbers.
SEED_FREE_FIELDS = frozenset({"seed", "run_name", "data", "training.cpus_per_worker", "training.max_failures",
                              "provenance"})


@dataclass(frozen=True)
class Model:
    """One row of the report tables: one or more runs (seeds) scored with one column."""

    label: str
    score_col: str
    runs: tuple[Run, ...]

    def predictions(self, split: str) -> list[pd.DataFrame]:
        return [run.predictions[run.predictions["split"] == split] for run in self.runs]


def group_models(choices: list[tuple[Run, str]]) -> list[Model]:
    """Group (run, score column) choices by (variant, column), keeping the first appearance order.

    Runs of one variant are seeds of one model only when their configs are equal apart from SEED_FREE_FIELDS
    and their seeds differ; otherwise RunDirError names both run directories and what differs.
    """
    groups: dict[tuple[str, str], list[Run]] = {}
    for run, column in choices:
        run.require(column)
        members = groups.setdefault((run.variant, column), [])
        if all(m.path.resolve() != run.path.resolve() for m in members):
            if members:
                check_seeds_of_one_model(members[0], run)
            members.append(run)
    for runs in groups.values():
        for i, run in enumerate(runs):
            for other in runs[i + 1:]:
                if run.seed == other.seed:
                    raise RunDirError(f"{run.path} and {other.path}: the same variant {run.variant!r}, settings "
                                      f"and seed {run.seed!r}: one run twice (a copy?); averaging them as two "
                                      "seeds would understate the spread, give only one of them")
    return [Model(_label(variant, column), column, tuple(runs)) for (variant, column), runs in groups.items()]


def config_differences(a: Run, b: Run, ignore: frozenset[str] = SEED_FREE_FIELDS) -> list[str]:
    """The fields in which two runs' configs differ (outside `ignore`), as 'name (a vs b)'."""
    fa, fb = flat_config(a.config, keep_empty=True), flat_config(b.config, keep_empty=True)
    absent = object()

    def shown(value: object) -> str:
        return "absent" if value is absent else repr(value)

    return [f"{name} ({shown(fa.get(name, absent))} vs {shown(fb.get(name, absent))})"
            for name in sorted(set(fa) | set(fb))
            if name not in ignore and name.split(".")[0] not in ignore and fa.get(name, absent) != fb.get(name, absent)]


def check_seeds_of_one_model(first: Run, run: Run) -> None:
    """RunDirError unless `run` may be averaged with `first` as another seed of the same setting."""
    differences = config_differences(first, run)
    if differences:
        raise RunDirError(
            f"{first.path} and {run.path} share the variant {run.variant!r} but are not seeds of one setting: "
            f"their config.json differ in {', '.join(differences)}. Give each setting its own variant when "
            "training (runners/train.py --variant, or a distinct variant in the study) or report only one "
            "setting's runs")


def _label(variant: str, column: str) -> str:
    return variant if column == DEFAULT_SCORE else f"{variant} [{column}]"


def oracle_model(models: list[Model]) -> Model:
    """The oracle row: ROC/PR of `oracle_p` from the first run that has it."""
    for model in models:
        for run in model.runs:
            if ORACLE in run.predictions.columns:
                return Model("Oracle (oracle_p)", ORACLE, (run,))
    raise RunDirError(f"--oracle: no run's predictions.parquet has an {ORACLE!r} column")


def select_models(run_args: list[str], baseline_args: list[str], study: str | None = None,
                  score_col: str = DEFAULT_SCORE, baseline_score_col: str | None = None,
                  oracle: bool = False) -> tuple[list[Model], Model]:
    """Resolve the CLI's run and baseline arguments into models; the baseline model comes first.

    A run argument is RUN_DIR or RUN_DIR:COLUMN. A baseline argument is the same, or (with a study) the
    run_name, variant or folder name of the study's runs (all their seeds).
    """
    if not baseline_args:
        raise RunDirError("a baseline is required (--baseline)")
    cache: dict[Path, Run] = {}

    def run_at(path: str | Path) -> Run:
        key = Path(path).resolve()
        if key not in cache:
            cache[key] = load_run(path)
        return cache[key]

    study_dirs = [(str(p), None) for p in study_run_dirs(study)] if study else []
    candidates = [split_column(a) for a in run_args] + study_dirs
    runs = []
    for path, column in candidates:
        run = run_at(path)
        chosen = column or run.first_column(score_col)
        run.require(chosen, f"{path}:{column}" if column else "--score-col")
        runs.append((run, chosen))
    base_col = baseline_score_col or score_col
    baseline = [pair for arg in baseline_args for pair in _baseline_runs(arg, runs, run_at, base_col)]
    for run, column in baseline:
        run.require(column, "--baseline" if column != base_col else
                    "--baseline-score-col" if baseline_score_col else "--score-col")
    models = group_models(baseline + runs)
    owners = {m.label for m in models for run, col in baseline if run in m.runs and col == m.score_col}
    if len(owners) != 1:
        raise RunDirError(f"the baseline runs must share one variant and score column, got {sorted(owners)}")
    base = next(m for m in models if m.label in owners)
    others = [m for m in models if m is not base]
    if not others and not oracle:
        raise RunDirError("nothing to compare: give at least one run besides the baseline")
    return [base, *others, *([oracle_model([base, *others])] if oracle else [])], base


def _baseline_runs(arg: str, runs: list[tuple[Run, str]], run_at, default_col: str) -> list[tuple[Run, str]]:
    """The runs an argument of --baseline names: a run directory, or a name matching runs already listed."""
    target, column = split_column(arg)
    if Path(target).is_dir():
        run = run_at(target)
        return [(run, column or run.first_column(default_col))]
    matches = list({id(r): r for r, _ in runs if target in (r.name, r.variant, r.path.name)}.values())
    if not matches:
        names = sorted({r.name for r, _ in runs})
        raise RunDirError(f"--baseline {arg!r}: not a run directory, nor a run name among {names}")
    return [(run, column or run.first_column(default_col)) for run in matches]
