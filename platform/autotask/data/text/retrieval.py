"""Corpus-level similarity: BM25 (bm25s) and TF-IDF cosines on words and character n-grams (scikit-learn).

Both are fitted on the input's own corpus: BM25 indexes every distinct offer text of the input (so its IDF is
that of the whole catalogue, not of one query's handful of candidates) and scores each pair's offer against its
query; TF-IDF vocabularies and IDF come from the distinct queries and offers together.
"""

from __future__ import annotations

import bm25s
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from autotask.data.text.tokens import tokenize


def bm25_scores(queries: pd.Series, offers: pd.Series, progress=None) -> np.ndarray:
    """BM25 score of each pair's offer for its query, over an index of all distinct offers."""
    offer_codes, offer_texts = pd.factorize(offers)
    retriever = bm25s.BM25()
    retriever.index([tokenize(t) or [""] for t in offer_texts], show_progress=False)
    scores = np.zeros(len(queries), dtype=np.float32)
    for query, rows in queries.groupby(queries, sort=False).indices.items():
        tokens = tokenize(query)
        if tokens:
            scores[rows] = retriever.get_scores(tokens)[offer_codes[rows]]
        if progress is not None:
            progress(len(rows))
    return scores


def group_ratio(values: np.ndarray, groups: pd.Series) -> np.ndarray:
    """Each value divided by its group's maximum (0 where the maximum is 0)."""
    top = pd.Series(values).groupby(groups.to_numpy()).transform("max").to_numpy()
    return np.divide(values, top, out=np.zeros_like(values), where=top > 0)


def tfidf_cosine(queries: pd.Series, offers: pd.Series, **vectorizer) -> np.ndarray:
    """Cosine of each pair's TF-IDF vectors (rows are L2-normalized, so the cosine is a row-wise dot)."""
    codes, texts = pd.factorize(pd.concat([queries, offers], ignore_index=True))
    matrix = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, **vectorizer).fit_transform(texts)
    q, o = matrix[codes[: len(queries)]], matrix[codes[len(queries) :]]
    return np.asarray(sparse.csr_matrix(q.multiply(o)).sum(axis=1), dtype=np.float32).ravel()


def word_cosine(queries: pd.Series, offers: pd.Series) -> np.ndarray:
    return tfidf_cosine(queries, offers, analyzer=tokenize)


def char_cosine(queries: pd.Series, offers: pd.Series) -> np.ndarray:
    return tfidf_cosine(queries, offers, analyzer="char_wb", ngram_range=(3, 5), lowercase=True)
