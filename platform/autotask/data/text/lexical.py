"""Per-pair lexical features: lengths, token overlap, number and unit matches, brand and head-noun match.

Each feature is one small function of (query, offer) `Parsed` texts, registered in `LEXICAL`; the table is
built by one loop over pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autotask.data.text.tokens import Parsed


def _share(part: frozenset, whole: frozenset) -> float:
    return len(part & whole) / len(part) if part else 0.0


def _bigrams(tokens: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(tokens, tokens[1:], strict=False))


def _prefix_coverage(q: Parsed, o: Parsed) -> float:
    """Share of query tokens equal to, or a >= 4-letter prefix of, some offer token (typos, truncations)."""
    if not q.tokens:
        return 0.0
    hits = sum(any(t == w or (len(t) >= 4 and w.startswith(t)) for w in o.token_set) for t in q.token_set)
    return hits / len(q.token_set)


def _head(tokens: tuple[str, ...]) -> str | None:
    """The query's head noun: its last token that is not a number."""
    words = [t for t in tokens if not t[0].isdigit()]
    return words[-1] if words else None


LEXICAL: dict[str, Callable[[Parsed, Parsed], float]] = {
    "query_tokens": lambda q, o: len(q.tokens),
    "offer_tokens": lambda q, o: len(o.tokens),
    "query_chars": lambda q, o: len(q.text),
    "offer_chars": lambda q, o: len(o.text),
    "token_overlap": lambda q, o: len(q.token_set & o.token_set),
    "query_coverage": lambda q, o: _share(q.token_set, o.token_set),
    "offer_coverage": lambda q, o: _share(o.token_set, q.token_set),
    "jaccard": lambda q, o: len(q.token_set & o.token_set) / max(len(q.token_set | o.token_set), 1),
    "prefix_coverage": _prefix_coverage,
    "bigram_coverage": lambda q, o: _share(_bigrams(q.tokens), _bigrams(o.tokens)),
    "exact_phrase": lambda q, o: float(bool(q.tokens) and " ".join(q.tokens) in " ".join(o.tokens)),
    "head_match": lambda q, o: float(_head(q.tokens) in o.token_set),
    "brand_match": lambda q, o: float(bool(o.tokens) and o.tokens[0] in q.token_set),
    "query_has_number": lambda q, o: float(bool(q.numbers)),
    "number_coverage": lambda q, o: _share(q.numbers, o.numbers),
    "query_has_measure": lambda q, o: float(bool(q.measures)),
    "measure_coverage": lambda q, o: _share(q.measures, o.measures),
}


def lexical_features(queries: list[Parsed], offers: list[Parsed], progress=None) -> np.ndarray:
    """(pairs x len(LEXICAL)) float32 matrix; `progress(n)` is called as rows are done."""
    functions = list(LEXICAL.values())
    out = np.empty((len(queries), len(functions)), dtype=np.float32)
    for i, (q, o) in enumerate(zip(queries, offers, strict=True)):
        out[i] = [f(q, o) for f in functions]
        if progress is not None and (i + 1) % 5000 == 0:
            progress(5000)
    if progress is not None:
        progress(len(queries) % 5000)
    return out
