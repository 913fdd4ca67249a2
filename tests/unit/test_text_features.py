"""Text feature extractors on hand-written strings (no real data, no model download)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autotask.data.contract import ContractError
from autotask.data.text.departments import OTHER, department, departments
from autotask.data.text.embeddings import EmbeddingCache, pair_cosine
from autotask.data.text.lexical import LEXICAL, lexical_features
from autotask.data.text.reading import LabelScale, pairs_frame
from autotask.data.text.retrieval import bm25_scores, char_cosine, group_ratio, word_cosine
from autotask.data.text.tokens import number_value, parse, tokenize


def lexical(query: str, offer: str) -> dict[str, float]:
    row = lexical_features([parse(query)], [parse(offer)])[0]
    return dict(zip(LEXICAL, row.tolist(), strict=True))


def test_tokenize_lowercases_stems_and_drops_stopwords():
    assert tokenize("Brackets for the Wall") == ["bracket", "wall"]
    assert tokenize("3/4 in. Copper Pipes") == ["3/4", "copper", "pipe"]


@pytest.mark.parametrize(("text", "value"), [("1-1/4", 1.25), ("3/4", 0.75), ("1,000", 1000.0), (".5", 0.5)])
def test_number_value(text, value):
    assert number_value(text) == value


def test_measures_normalize_units():
    assert parse("widget 3/4 in. x 6 ft. 60 watt").measures == {(0.75, "in"), (6.0, "ft"), (60.0, "w")}
    assert parse('widget 3/4" 60W').measures == {(0.75, "in"), (60.0, "w")}
    assert parse("1.9 cu. ft. box").measures == {(1.9, "cu_ft")}


def test_overlap_features():
    f = lexical("red widget hooks", "Acme Red Widget Hook in Chrome")
    assert f["query_coverage"] == 1.0
    assert f["token_overlap"] == 3
    assert f["jaccard"] == pytest.approx(3 / 5)
    assert f["offer_coverage"] == pytest.approx(3 / 5)
    assert f["exact_phrase"] == 1.0 and f["bigram_coverage"] == 1.0
    assert f["head_match"] == 1.0
    none = lexical("blue gizmo", "Acme Red Widget")
    assert none["query_coverage"] == none["jaccard"] == none["exact_phrase"] == none["head_match"] == 0.0


def test_prefix_coverage_catches_truncated_words():
    assert lexical("galv scr", "Galvanized Screw")["prefix_coverage"] == 0.5  # "scr": under 4 letters
    assert lexical("galva screw", "Galvanized Screw")["prefix_coverage"] == 1.0


def test_brand_number_and_measure_matches():
    f = lexical("acme 3/4 in. pipe 2 pack", 'Acme 3/4" Copper Pipe')
    assert f["brand_match"] == 1.0
    assert f["query_has_number"] == 1.0 and f["number_coverage"] == 0.5  # 0.75 found, 2 not
    assert f["query_has_measure"] == 1.0 and f["measure_coverage"] == 0.5  # 3/4 in found, 2 pack not
    g = lexical("pipe", "Acme 1/2 in. Pipe")
    assert g["query_has_number"] == g["number_coverage"] == g["brand_match"] == 0.0


def test_lengths():
    f = lexical("red widget", "Acme Red Widget")
    assert (f["query_tokens"], f["offer_tokens"], f["query_chars"], f["offer_chars"]) == (2, 3, 10, 15)


def test_bm25_prefers_the_matching_offer_and_group_ratio():
    queries = pd.Series(["copper pipe", "copper pipe", "garden hose"])
    offers = pd.Series(["Acme Copper Pipe", "Acme Garden Hose", "Acme Garden Hose"])
    scores = bm25_scores(queries, offers)
    assert scores[0] > scores[1] >= 0 and scores[2] > 0
    assert group_ratio(scores, queries).tolist() == pytest.approx([1.0, scores[1] / scores[0], 1.0])


def test_tfidf_cosines():
    queries = pd.Series(["copper pipe", "garden hose", "coper pipe"])
    offers = pd.Series(["copper pipe", "copper pipe", "copper pipe"])
    words, chars = word_cosine(queries, offers), char_cosine(queries, offers)
    assert words[0] == pytest.approx(1.0) and words[1] == 0.0
    assert chars[0] == pytest.approx(1.0) and chars[2] > chars[1]  # a typo still shares character n-grams


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Acme 1.9 cu. ft. Over the Range Microwave in Stainless Steel", "Appliances"),
        ("Acme 52 in. Brushed Nickel Ceiling Fan with Light Kit", "Lighting & Fans"),
        ("Acme 1/4 in. Flat Washers (100-Pack)", "Hardware"),
        ("Acme 1-gal. Tugboat Wood and Concrete Coating", "Paint"),
        ("Acme Frobnicator Deluxe", OTHER),
    ],
)
def test_department_takes_the_last_keyword_of_the_title_head(title, expected):
    assert department(title) == expected


def test_departments_is_deterministic_per_title():
    titles = ["Acme Toilet Seat", "Acme Garden Hose", "Acme Toilet Seat"]
    assert departments(titles) == ["Bath", "Outdoor & Garden", "Bath"]


class FakeModel:
    """Counts encoded texts; vector = normalized (length, vowels, 1)."""

    def __init__(self):
        self.encoded = 0

    def encode(self, texts, **_):
        self.encoded += len(texts)
        raw = np.array([[len(t), sum(c in "aeiou" for c in t), 1.0] for t in texts], dtype=np.float32)
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_embedding_cache_embeds_each_text_once_and_persists(tmp_path):
    model = FakeModel()
    cache = EmbeddingCache(tmp_path, model=model)
    cosine = pair_cosine(cache, ["pipe", "hose"], ["pipe", "copper pipe"])
    assert cosine[0] == pytest.approx(1.0) and model.encoded == 3
    pair_cosine(cache, ["pipe"], ["copper pipe"])
    assert model.encoded == 3
    reopened = EmbeddingCache(tmp_path, model=FakeModel())
    assert reopened.missing(["pipe", "hose", "copper pipe", "new"]) == ["new"]


def _raw() -> pd.DataFrame:
    offers = ["Copper Pipe", "Garden Hose", "Desk Lamp"]
    return pd.DataFrame({"q": ["pipe", "hose", "lamp"], "o": offers, "g": [3, 1, 2]})


def _pairs(raw: pd.DataFrame) -> pd.DataFrame:
    return pairs_frame(raw, "input.csv", {"query": "q", "offer": "o", "grade": "g"}, LabelScale(1, 3))


def test_reading_checks_name_columns_and_rows():
    assert len(_pairs(_raw())) == 3
    with pytest.raises(ContractError, match=r"input.csv: missing column\(s\) \['o'\]"):
        _pairs(_raw().drop(columns="o"))
    blank = _raw()
    blank.loc[1, "q"] = "  "
    with pytest.raises(ContractError, match=r"column 'q' has empty text at row 1$"):
        _pairs(blank)
    outside = _raw()
    outside.loc[2, "g"] = 4
    with pytest.raises(ContractError, match=r"column 'g' has values outside the label scale \[1, 3\].* row 2"):
        _pairs(outside)


def test_label_scale_parse_and_rescale():
    scale = LabelScale.parse("1:3")
    assert scale.rescale(np.array([1.0, 2.0, 3.0])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ContractError, match="MIN:MAX"):
        LabelScale.parse("3")
