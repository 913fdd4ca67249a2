"""Moved: a run's configs are `autotask.config` (any layer from training/ up reads them there). This name stays
for code written before the move (and runs whose pickled state names it); new code imports `autotask.config`."""

from autotask.config import (  # noqa: F401
    CALIBRATIONS,
    COMPILE_MODES,
    LEGACY_TRAINING,
    LR_DECAYS,
    MIN_AUTO_BATCH,
    PRECISIONS,
    PRESETS,
    RUN_FORMAT,
    RunConfig,
    TrainingConfig,
)
