"""The data contract: schema, manifest, validation, simulator and importers."""

from autotask.data.contract import (
    FEATURE_DTYPE,
    SPLITS,
    TRAINING_SPLITS,
    ContractError,
)
from autotask.data.manifest import Manifest, load_manifest
from autotask.data.validate import ValidationReport, validate_dataset

__all__ = [
    "FEATURE_DTYPE",
    "SPLITS",
    "TRAINING_SPLITS",
    "ContractError",
    "Manifest",
    "ValidationReport",
    "load_manifest",
    "validate_dataset",
]
