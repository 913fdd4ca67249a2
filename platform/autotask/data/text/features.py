"""All numeric features of (query, offer) pairs, in the manifest's order; see docs/real-data.md."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import pandas as pd
from rich.progress import Progress

from autotask.data.contract import FEATURE_DTYPE
from autotask.data.text.embeddings import EmbeddingCache, pair_cosine
from autotask.data.text.lexical import LEXICAL, lexical_features
from autotask.data.text.reading import GROUP, OFFER, QUERY
from autotask.data.text.retrieval import bm25_scores, char_cosine, group_ratio, word_cosine
from autotask.data.text.tokens import parse

CORPUS = ("bm25", "bm25_group_ratio", "tfidf_word_cosine", "tfidf_char_cosine", "embedding_cosine")
FEATURES = [*LEXICAL, *CORPUS]


def _stepper(progress: Progress | None) -> Callable[[str, int], Callable[[int], None] | None]:
    """A factory of progress callbacks, one rich task per step (no-ops without a Progress)."""

    def step(description: str, total: int):
        if progress is None:
            return None
        task = progress.add_task(description, total=total)
        return lambda n: progress.advance(task, n)

    return step


def extract_features(pairs: pd.DataFrame, cache: EmbeddingCache, show_progress: bool = True) -> pd.DataFrame:
    """FEATURES for each row of `pairs` (columns query, offer, group) as a float32 frame."""
    queries, offers = pairs[QUERY], pairs[OFFER]
    with Progress(transient=True) if show_progress else nullcontext() as progress:
        step = _stepper(progress)
        parsed = {text: parse(text) for text in pd.unique(pd.concat([queries, offers]))}
        lexical = lexical_features(
            [parsed[t] for t in queries], [parsed[t] for t in offers], step("lexical features", len(pairs))
        )
        bm25 = bm25_scores(queries, offers, step("BM25", len(pairs)))
        texts = pd.unique(pd.concat([queries, offers]))
        embedding = pair_cosine(cache, queries.tolist(), offers.tolist(), step("embeddings", len(cache.missing(texts))))
    corpus = {
        "bm25": bm25,
        "bm25_group_ratio": group_ratio(bm25, pairs[GROUP]),
        "tfidf_word_cosine": word_cosine(queries, offers),
        "tfidf_char_cosine": char_cosine(queries, offers),
        "embedding_cosine": embedding,
    }
    frame = pd.DataFrame(lexical, columns=list(LEXICAL), index=pairs.index)
    for name in CORPUS:
        frame[name] = corpus[name]
    return frame.astype(FEATURE_DTYPE)
