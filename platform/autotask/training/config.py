"""One typed config per run: written to RUN_DIR/config.json and driving the same run when read back."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

MODEL_KINDS = ("autotask", "dnn", "lightgbm")
CALIBRATIONS = ("platt", "isotonic", "none")


@dataclass
class TrainingConfig:
    """Optimisation schedule: soft-label pre-training, then hard-label fine-tuning with early stopping."""

    epochs_pretrain: int = 2
    epochs_finetune: int = 6
    batch_size: int = 256
    lr_facet1: float = 6e-4
    lr_facet2: float = 6e-4
    lr_head: float = 6e-4
    weight_decay: float = 0.0
    patience: int = 3  # fine-tuning epochs without a better validation ROC AUC before stopping
    shuffle_buffer: int = 4096  # rows mixed locally so a batch's task blocks hold a random mixture of scenarios
    workers: int = 1
    cpus_per_worker: float = 0.5  # fractional: Ray Data needs CPU too (design notes section 5)
    use_gpu: bool = False
    max_failures: int = 2  # worker failures survived by restarting from the last checkpoint
    calibration: str = "platt"

    def __post_init__(self):
        problems = []
        for name in ("epochs_pretrain", "epochs_finetune", "patience"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.epochs_pretrain + self.epochs_finetune == 0:
            problems.append("at least one epoch of pre-training or fine-tuning is needed")
        for name in ("batch_size", "workers", "shuffle_buffer"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        for name in ("lr_facet1", "lr_facet2", "lr_head"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if self.cpus_per_worker <= 0:
            problems.append("cpus_per_worker must be > 0")
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration must be one of {CALIBRATIONS}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class RunConfig:
    """Everything that defines a run. `model_config` holds the model's own config fields (d/n_tasks derived)."""

    data: str
    model: str = "autotask"
    run_name: str = ""
    variant: str = ""
    seed: int = 0
    model_config: dict = field(default_factory=dict)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self):
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model must be one of {MODEL_KINDS}, got {self.model!r}")
        if isinstance(self.training, dict):
            self.training = TrainingConfig(**self.training)
        self.run_name = self.run_name or self.model
        self.variant = self.variant or self.model

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown run config key(s): {unknown}")
        training = raw.get("training", {})
        unknown_training = sorted(set(training) - {f.name for f in fields(TrainingConfig)})
        if unknown_training:
            raise ValueError(f"unknown training config key(s): {unknown_training}")
        return cls(**{**raw, "training": TrainingConfig(**training)})

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
