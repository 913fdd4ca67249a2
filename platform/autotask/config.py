"""One typed config per run: written to RUN_DIR/config.json and driving the same run when read back.

A layer of its own, above models/ (it checks the model kind against the registry) and below everything that runs
or describes a run (training/, runtime/, tuning/, experiments/, benchmarks/, commands/, api.py), so each of them reads
it here rather than through a sibling package (docs/architecture.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from autotask.models.interface import SERVING_BLOCK_SIZE
from autotask.models.registry import get_kind

CALIBRATIONS = ("platt", "isotonic", "none")
LR_DECAYS = ("cosine", "none")
COMPILE_MODES = ("auto", "on", "off")  # torch.compile of the training step; auto: on CUDA only (docs/speed.md)
PRECISIONS = ("auto", "fp32", "bf16")  # the training step's autocast; auto: bf16 on CUDA, fp32 on CPU
# Where the training loop reads its rows: auto = from memory for a 1-worker CPU run on data under 2M rows (no Ray
# needed), else Ray Data; ray-data = always Ray Data (runtime/local.py, training/feeds.py)
FEED_MODES = ("auto", "ray-data")
# Version of what a run directory means. 2: per-epoch shuffles, id 0 defined by construction, one scoring protocol
# (`eval_block_size`), decay on weights only. A run directory written under an older version is never reused.
RUN_FORMAT = 2
MIN_AUTO_BATCH = 32  # the smallest minibatch min_steps_per_epoch may choose
# Training fields added after stored configs began, with the behaviour of the runs written before them.
LEGACY_TRAINING = {"pool_in_finetune": False, "min_steps_per_epoch": 0}
# A stored torch run without `feed` was fed by Ray Data (in-memory splits came on 2026-12-05); LightGBM has no feed.
LEGACY_TORCH_FEED = {"feed": "ray-data"}
# Named training recipes (`runners/train.py --preset`): overrides of TrainingConfig's defaults.
PRESETS = {
    "default": {},
    # The paper's schedule: 30 + 45 epochs at its learning rate 6e-4 (early stopping kept, patience 10).
    # Its fine-tuning reads the hard labels only, at batch 256 whatever the data's size.
    "paper": {"epochs_pretrain": 30, "epochs_finetune": 45, "patience": 10, "lr_facet1": 6e-4, "lr_facet2": 6e-4,
              "lr_head": 6e-4, **LEGACY_TRAINING},
}


@dataclass
class TrainingConfig:
    """Optimisation schedule: soft-label pre-training, then hard-label fine-tuning with early stopping."""

    epochs_pretrain: int = 10
    epochs_finetune: int = 30
    batch_size: int = 256
    lr_facet1: float = 2e-3  # chosen on validation over the paper's 6e-4 (README, "Training recipe")
    lr_facet2: float = 2e-3
    lr_head: float = 2e-3  # every parameter group other than AutoTask's facets, unless set in lr_groups
    lr_groups: dict = field(default_factory=dict)  # learning rate by the model's group name (models/registry.py)
    weight_decay: float = 0.0
    patience: int = 6  # fine-tuning epochs without a better validation ROC AUC before stopping
    warmup_epochs: int = 1  # per stage: the learning rate ramps up over the stage's first epochs
    lr_decay: str = "cosine"  # per stage, after warm-up: cosine down to min_lr_ratio of the base rate, or none
    min_lr_ratio: float = 0.1
    # Scoring protocol: rows per facet-2 block (of one scenario and split) when scoring for model selection,
    # calibration and test; default the serving block size, so what is reported is what is served.
    eval_block_size: int = SERVING_BLOCK_SIZE
    shuffle_buffer: int = 4096  # rows mixed locally so a batch's task blocks hold a random mixture of scenarios
    workers: int = 1
    cpus_per_worker: float = 0.5  # fractional: Ray Data needs CPU too (design notes section 5)
    use_gpu: bool = False
    max_failures: int = 2  # worker failures survived by restarting from the last checkpoint
    calibration: str = "platt"
    # Fine-tune on the soft-label pool (its teacher probabilities) beside the hard-labelled train split, as LightGBM
    # fits both at once; pre-training is unchanged. No effect on data without a pool. Chosen on validation of held-out
    # random worlds and two simulator seeds (docs/worlds.md, "Model work").
    pool_in_finetune: bool = True
    # Small data gets smaller minibatches: a stage's batch is halved from batch_size (not below MIN_AUTO_BATCH or the
    # model's block size) until each worker takes at least this many optimizer steps per epoch; 0 = always
    # batch_size. Recorded per epoch as `batch_size` in the run's history. Chosen like pool_in_finetune.
    min_steps_per_epoch: int = 50
    # Validate, early-stop on and save an exponential moving average of the weights over about this many epochs
    # (0 = the trained weights themselves): a smoother validation curve to stop on (training/averaging.py).
    weight_average_epochs: float = 0.0
    # How the training step runs (not what it computes): torch.compile and bf16 autocast. "auto" turns both on for
    # CUDA and off on CPU, where compiling costs more than it saves on small runs (docs/speed.md, "Compiled step").
    compile: str = "auto"
    precision: str = "auto"
    feed: str = "auto"  # FEED_MODES

    def __post_init__(self):
        problems = []
        for name in ("epochs_pretrain", "epochs_finetune", "patience", "min_steps_per_epoch", "weight_average_epochs"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.epochs_pretrain + self.epochs_finetune == 0:
            problems.append("at least one epoch of pre-training or fine-tuning is needed")
        if self.warmup_epochs < 0:
            problems.append("warmup_epochs must be >= 0")
        if self.lr_decay not in LR_DECAYS:
            problems.append(f"lr_decay must be one of {LR_DECAYS}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            problems.append("min_lr_ratio must be in [0, 1]")
        for name in ("batch_size", "workers", "shuffle_buffer", "eval_block_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        for name in ("lr_facet1", "lr_facet2", "lr_head"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if not isinstance(self.lr_groups, dict) or not all(
                isinstance(v, int | float) and v > 0 for v in self.lr_groups.values()):
            problems.append(f"lr_groups must map group names to learning rates > 0, got {self.lr_groups!r}")
        if self.cpus_per_worker <= 0:
            problems.append("cpus_per_worker must be > 0")
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration must be one of {CALIBRATIONS}")
        if self.compile not in COMPILE_MODES:
            problems.append(f"compile must be one of {COMPILE_MODES}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {PRECISIONS}")
        if self.feed not in FEED_MODES:
            problems.append(f"feed must be one of {FEED_MODES}")
        if problems:
            raise ValueError("; ".join(problems))

    def compiles(self, device_type: str) -> bool:
        """Whether the training step is compiled on a device of this type ("cpu", "cuda")."""
        return self.compile == "on" or (self.compile == "auto" and device_type == "cuda")

    def autocast_dtype(self, device_type: str):
        """The training step's autocast dtype on this device type, or None for full fp32."""
        import torch

        bf16 = self.precision == "bf16" or (self.precision == "auto" and device_type == "cuda")
        return torch.bfloat16 if bf16 else None

    def stage_batch_size(self, rows: int, floor: int = 1) -> int:
        """The minibatch of a stage whose dataset holds `rows` rows (all workers together): batch_size, halved while
        a worker would take fewer than min_steps_per_epoch steps, never below max(MIN_AUTO_BATCH, floor)."""
        batch, lowest = self.batch_size, min(self.batch_size, max(MIN_AUTO_BATCH, floor))
        steps = self.min_steps_per_epoch * self.workers  # over all workers
        while steps and batch // 2 >= lowest and rows / batch < steps:
            batch //= 2
        return batch


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
    format: int = RUN_FORMAT
    # What produced the run (code, packages, machine, data fingerprint: autotask.provenance); recorded when the run
    # starts, never part of what defines it (equality ignores it).
    provenance: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        get_kind(self.model)  # ValueError naming the known kinds
        if isinstance(self.training, dict):
            self.training = TrainingConfig(**self.training)
        self.run_name = self.run_name or self.model
        self.variant = self.variant or self.model

    @property
    def protocol(self) -> dict:
        """The scoring protocol, recorded in config.json and in every metrics.parquet row."""
        return {"eval_block_size": self.training.eval_block_size}

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
        return cls(**{"format": 1, **raw, "training": TrainingConfig(**training)})  # no format: written before 2

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        """A stored config (a run's config.json, a search's best_config.json); training fields it predates take the
        value it was trained with (LEGACY_TRAINING), so an old run is never mistaken for one with today's defaults."""
        raw = json.loads(Path(path).read_text())
        if isinstance(raw, dict) and isinstance(raw.get("training", {}), dict):
            raw["training"] = {**LEGACY_TRAINING, **_legacy_feed(raw), **raw.get("training", {})}
        return cls.from_dict(raw)


def _legacy_feed(raw: dict) -> dict:
    """LEGACY_TORCH_FEED for a stored torch run (a model kind this version knows), else nothing."""
    try:
        return LEGACY_TORCH_FEED if get_kind(raw.get("model", "autotask")).is_torch else {}
    except (KeyError, TypeError, ValueError):  # an unknown kind: from_dict names it
        return {}
