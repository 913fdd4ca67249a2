"""The Home Depot search-relevance benchmark: a preset of the text builder (docs/real-data.md)."""

from __future__ import annotations

from pathlib import Path

from autotask.data.text.builder import TextSpec
from autotask.data.text.reading import LabelScale

# The raw file is never copied into the repository: it is read from the shared data folder beside it.
DEFAULT_INPUT = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "home-depot" / "train.csv.zip"
UNSEEN = ("Appliances", "Heating & Cooling")


def home_depot_spec(input: str | Path | None = None, **overrides) -> TextSpec:
    """Queries = search_term, offers = product_title, grade 1..3, positive at mean grade >= 2.5,
    scenario = department from the title, two departments held out as unseen."""
    settings = {
        "input": Path(input or DEFAULT_INPUT).resolve(),
        "query_col": "search_term",
        "offer_col": "product_title",
        "label_col": "relevance",
        "label_scale": LabelScale(1.0, 3.0),
        "threshold": 2.5,
        "scenario_rule": "departments",
        "unseen": UNSEEN,
        "encoding": "latin-1",
    }
    return TextSpec(**{**settings, **overrides})
