"""What a search is: its option lists (read by the commands' argparse `choices`) and SearchConfig, checked before
Ray starts. No Ray or Optuna here: the commands import it to build their flags.

The rest of a search, by job: tuning/optuna_store.py (the Optuna study, its storage and sampler, warm start),
tuning/tuner.py (building, running and resuming Tune's experiment), tuning/interruption.py (Ctrl-C during it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autotask.preflight import InputError

METRICS = ("valid_roc_auc", "best_valid_roc_auc", "train_loss")  # what trials report each epoch (--mode max|min)
OBJECTIVES = ("auc", "params", "latency")
SCHEDULERS = ("asha", "none")  # asha: the cooperative ASHA of tuning/asha.py
SAMPLERS = ("tpe", "random")  # Optuna's; tuning/optuna_store.py builds them
MODES = ("max", "min")


@dataclass
class SearchConfig:
    trials: int = 8
    metric: str = "valid_roc_auc"
    mode: str = "max"
    objectives: list[str] = field(default_factory=lambda: ["auc"])  # "auc" and optionally "params"
    scheduler: str = "asha"  # one of SCHEDULERS
    sampler: str = "tpe"  # one of SAMPLERS
    concurrent: int | None = None  # default: what the cluster fits
    seed: int = 0
    optuna_storage: str | None = None  # SQLAlchemy URL; default sqlite:///OUT/optuna.db
    study_name: str | None = None  # the Optuna study's name in that storage; default OUT's folder name
    warm_start: str | None = None  # "URL" or "URL#STUDY": copy that study's finished trials first
    in_process: bool = True  # a 1-worker CPU trial trains in the trial's process (no Train worker group)
    reuse_actors: bool = True  # such trials run one after another in one reused process (Tune's reuse_actors)

    def __post_init__(self):
        """Refuse a search that could not run, before Ray starts (InputError names the flag)."""
        problems = self._count_problems() + self._objective_problems()
        if self.mode not in MODES:
            problems.append(f"--mode {self.mode}: one of {', '.join(MODES)}")
        if self.scheduler not in SCHEDULERS or self.sampler not in SAMPLERS:
            problems.append(f"scheduler/sampler: one of {SCHEDULERS} / {SAMPLERS}")
        if problems:
            raise InputError("; ".join(problems))

    def _count_problems(self) -> list[str]:
        problems = []
        if self.trials < 1:
            problems.append(f"--trials {self.trials}: at least 1 trial")
        if self.concurrent is not None and self.concurrent < 1:
            problems.append(f"--concurrent {self.concurrent}: at least 1 trial at a time (or leave it out)")
        return problems

    def _objective_problems(self) -> list[str]:
        problems = []
        if self.metric not in METRICS:
            problems.append(f"--metric {self.metric}: trials report {', '.join(METRICS)}")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        if unknown or not self.objectives or len(set(self.objectives)) < len(self.objectives):
            problems.append(f"--objectives {','.join(self.objectives)}: a comma-separated subset of "
                            f"{', '.join(OBJECTIVES)}, starting with auc, each once")
        elif self.objectives[0] != "auc":
            problems.append(f"--objectives {','.join(self.objectives)}: the first objective is auc")
        elif {"params", "latency"} <= set(self.objectives):
            problems.append("--objectives: params and latency are the same objective here (the parameter count, the "
                            "serving cost a search can measure for free); give one")
        return problems

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def metrics_and_modes(self) -> tuple[list[str] | str, list[str] | str]:
        columns = {"auc": (self.metric, self.mode), "params": ("n_params", "min"), "latency": ("n_params", "min")}
        chosen = [columns[o] for o in self.objectives]
        if not self.multi_objective:
            return chosen[0]
        return [c[0] for c in chosen], [c[1] for c in chosen]
