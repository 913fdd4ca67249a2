"""Text pairs (query, offer, graded label) -> contract datasets with extracted numeric features."""

from autotask.data.text.builder import TEXT_FRACTIONS, TextSpec, build_text_dataset
from autotask.data.text.features import FEATURES, extract_features
from autotask.data.text.home_depot import home_depot_spec
from autotask.data.text.reading import LabelScale

__all__ = [
    "FEATURES",
    "TEXT_FRACTIONS",
    "LabelScale",
    "TextSpec",
    "build_text_dataset",
    "extract_features",
    "home_depot_spec",
]
