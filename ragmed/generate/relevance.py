"""Is the evidence about what was asked? The question's embedding against each passage's.

The relevance of a passage is the cosine similarity of the question's embedding and the passage's (the
vector stored in the index, so it costs one query embedding that retrieval and triage share through the
embedder's cache). When no retrieved passage reaches ``threshold`` the answer abstains instead of quoting
evidence about something else. The default threshold was chosen on the development half of
``eval/sets/abstention`` for the bundled all-MiniLM-L6-v2 embeddings; another embedding model needs its own.

Example:
    >>> gate = RelevanceGate(engine.embedder, engine.store.docstore.vectors, threshold=0.55)  # doctest: +SKIP
    >>> gate.relevant("How do I renew my passport online?", passages)  # doctest: +SKIP
    []
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ragmed.types import Passage

Vectors = Callable[[Sequence[int]], dict[int, np.ndarray]]


class RelevanceGate:
    """Keeps the passages whose embedding is close enough to the question's.

    Args:
        embedder: has ``encode_query(text)`` (and ``encode(texts)`` for passages without a stored vector).
        vectors: stored passage vectors by chunk id (the docstore's), or None to embed passage texts.
        threshold: cosine similarity the best passage must reach.
    """

    def __init__(self, embedder: Any, vectors: Vectors | None = None, threshold: float = 0.55) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between -1 and 1, got {threshold}")
        self.embedder, self.vectors, self.threshold = embedder, vectors, threshold

    def scores(self, question: str, passages: Sequence[Passage]) -> list[float]:
        """The cosine similarity of ``question`` to each passage."""
        if not passages:
            return []
        query = np.asarray(self.embedder.encode_query(question), dtype=np.float32)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        stored = self.vectors([p.chunk_id for p in passages if p.chunk_id >= 0]) if self.vectors else {}
        missing = [p for p in passages if p.chunk_id not in stored]
        if missing:
            encoded = np.asarray(self.embedder.encode([p.text for p in missing]), dtype=np.float32)
            stored = {**stored, **{p.chunk_id: v for p, v in zip(missing, encoded)}}
        out = []
        for p in passages:
            vec = np.asarray(stored[p.chunk_id], dtype=np.float32)
            out.append(float(vec @ query) / max(float(np.linalg.norm(vec)), 1e-12))
        return out

    def relevant(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` in order when the best of them reaches the threshold, with those far below it
        (under half the threshold) left out; no passage at all when none reaches it."""
        scores = self.scores(question, passages)
        if not scores or max(scores) < self.threshold:
            return []
        return [p for p, s in zip(passages, scores) if s >= self.threshold / 2]
