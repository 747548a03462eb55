"""Retrieval: dense, BM25 and hybrid (fused) search with filters, expansion, diversity and reranking."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from ragmed.config import RetrievalSettings
from ragmed.embedding import Embedder
from ragmed.errors import RetrievalError
from ragmed.index.docstore import Filters
from ragmed.index.store import IndexStore
from ragmed.text import is_blank
from ragmed.types import Concept, Passage

logger = logging.getLogger(__name__)
MODES = ("dense", "bm25", "hybrid")
K = TypeVar("K", int, str)


@dataclass
class Query:
    """A query after expansion: the text for each retriever and the concepts it linked."""

    text: str
    dense_text: str
    lexical_text: str
    concepts: list[Concept] = field(default_factory=list)


Expander = Callable[[str], Query]


class Reranker(Protocol):
    """Reorders retrieved passages by relevance to the query."""

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        ...


class CrossEncoderReranker:
    """sentence-transformers ``CrossEncoder`` from a local model path."""

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(model_path, local_files_only=True)

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        if not passages:
            return passages
        scores = self._model.predict([(query, p.text) for p in passages])
        for passage, score in zip(passages, scores):
            passage.scores["rerank"] = float(score)
            passage.score = float(score)
        return sorted(passages, key=lambda p: -p.score)


def rrf(rankings: dict[str, list[tuple[K, float]]], weights: dict[str, float], k: int) -> dict[K, float]:
    """Reciprocal rank fusion: ``sum(weight / (k + rank))`` over the rankings (ranks from 1)."""
    fused: dict[K, float] = {}
    for name, ranking in rankings.items():
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + weights.get(name, 1.0) / (k + rank)
    return fused


def weighted(rankings: dict[str, list[tuple[K, float]]], weights: dict[str, float]) -> dict[K, float]:
    """Weighted sum of min-max normalised scores (a missing score counts as 0)."""
    fused: dict[K, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        values = np.array([s for _, s in ranking], dtype=np.float64)
        low, span = values.min(), float(values.max() - values.min()) or 1.0
        for cid, score in ranking:
            fused[cid] = fused.get(cid, 0.0) + weights.get(name, 1.0) * (score - low) / span
    return fused


def zscore(rankings: dict[str, list[tuple[K, float]]], weights: dict[str, float]) -> dict[K, float]:
    """Weighted sum of scores standardised within each ranking (``(score - mean) / sd``).

    A candidate missing from a ranking adds 0 there: the ranking's average, neither evidence for it
    nor against it. Unlike min-max scaling, one outlying score does not squash the rest.
    """
    fused: dict[K, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        values = np.array([s for _, s in ranking], dtype=np.float64)
        mean, sd = float(values.mean()), float(values.std()) or 1.0
        for key, score in ranking:
            fused[key] = fused.get(key, 0.0) + weights.get(name, 1.0) * (score - mean) / sd
    return fused


def best_per_document(ranking: list[tuple[int, float]], document_of: dict[int, str]) -> list[tuple[str, float]]:
    """A ranking of documents by their best passage's score in ``ranking``."""
    best: dict[str, float] = {}
    for cid, score in ranking:
        doc = document_of.get(cid)
        if doc is not None and (doc not in best or score > best[doc]):
            best[doc] = score
    return sorted(best.items(), key=lambda item: -item[1])


def per_document_cap(order: list[int], document_of: dict[int, str], cap: int) -> list[int]:
    """``order`` with each document's passages beyond its first ``cap`` moved behind all the others
    (in their order), so one long document cannot fill the top of the list."""
    seen: dict[str, int] = {}
    head: list[int] = []
    tail: list[int] = []
    for cid in order:
        doc = document_of.get(cid, str(cid))
        seen[doc] = seen.get(doc, 0) + 1
        (head if seen[doc] <= cap else tail).append(cid)
    return head + tail


def mmr(order: list[int], relevance: dict[int, float], vectors: dict[int, np.ndarray], k: int,
        lam: float, dedup: float) -> list[int]:
    """Maximal marginal relevance over ``order``, dropping near-duplicates (cosine >= ``dedup``).

    Each step takes the candidate with the best ``lam * relevance - (1 - lam) * similarity``, where
    similarity is the highest cosine to a passage already taken (0 without a vector); ties go to the
    earlier candidate.
    """
    if not order:
        return []
    n = len(order)
    rel = np.array([relevance[c] for c in order], dtype=np.float64)
    rel = (rel - rel.min()) / ((rel.max() - rel.min()) or 1.0)
    has = np.array([c in vectors for c in order])
    dim = next((len(v) for v in vectors.values()), 0)
    matrix = np.stack([vectors[c] if c in vectors else np.zeros(dim, dtype=np.float32) for c in order]) if dim else None
    similarity = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < k:
        alive &= similarity < dedup  # similarity only grows: a near-duplicate stays one
        if not alive.any():
            break
        value = np.where(alive, lam * rel - (1 - lam) * similarity, -np.inf)
        best = int(np.argmax(value))
        chosen.append(best)
        alive[best] = False
        if matrix is not None and has[best]:
            similarity = np.maximum(similarity, np.where(has, matrix @ matrix[best], 0.0))
    return [order[i] for i in chosen]


class Retriever:
    """Dense, BM25 or hybrid retrieval over an ``IndexStore``.

    Example:
        >>> retriever = Retriever(store, embedder, RetrievalSettings())
        >>> retriever.search("symptoms of type 2 diabetes", k=5, mode="hybrid")
    """

    def __init__(self, store: IndexStore, embedder: Embedder, settings: RetrievalSettings,
                 expander: Expander | None = None, reranker: Reranker | None = None) -> None:
        self.store, self.embedder, self.settings = store, embedder, settings
        self.expander, self.reranker = expander, reranker

    def expand(self, query: str) -> Query:
        if self.expander is not None and self.settings.expand_query:
            return self.expander(query)
        return Query(query, query, query)

    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: Filters | None = None, expanded: Query | None = None) -> list[Passage]:
        """Return the top ``k`` passages for ``query``.

        Args:
            query: the question or search text.
            k: passages returned (settings.top_k when None).
            mode: "dense", "bm25" or "hybrid" (settings.mode when None).
            filters: metadata filters applied before ranking.
            expanded: a query already expanded by the caller.

        Raises:
            RetrievalError: an unknown mode, a non-positive k, or an empty query.
        """
        k = self.settings.top_k if k is None else k
        mode = mode or self.settings.mode
        if k <= 0:
            raise RetrievalError(f"k must be greater than 0, got {k}")
        if mode not in MODES:
            raise RetrievalError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if is_blank(query):
            raise RetrievalError("query must not be empty")
        q = expanded or self.expand(query)
        allowed = self.store.allowed_ids(filters)
        depth = max(self.settings.candidates, k)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if mode in ("dense", "hybrid"):
            rankings["dense"] = self.store.dense_search(self.embedder.encode_query(q.dense_text), depth, allowed)
        if mode in ("bm25", "hybrid"):
            rankings["bm25"] = self.store.bm25_search(q.lexical_text, depth, allowed)
        if mode == "hybrid":
            fused, order = self._fuse(rankings)
        else:
            fused = dict(rankings[mode])
            order = [cid for cid, _ in rankings[mode]]
        order = order[:depth]
        if self.settings.mmr_lambda < 1.0 or self.settings.dedup_threshold < 1.0:
            rank_relevance = {cid: -float(i) for i, cid in enumerate(order)}
            order = mmr(order, rank_relevance, self.store.docstore.vectors(order), k * 2 if self.reranker else k,
                        self.settings.mmr_lambda, self.settings.dedup_threshold)
        passages = self._passages(order, fused, rankings)
        if self.reranker is not None:
            passages = self.reranker.rerank(query, passages)
        return passages[:k]

    def _fuse(self, rankings: dict[str, list[tuple[int, float]]]) -> tuple[dict[int, float], list[int]]:
        """The fused score of every candidate passage and their order, best first."""
        weights = {"dense": self.settings.dense_weight, "bm25": self.settings.bm25_weight}
        fusion = self.settings.fusion

        def fuse(lists: dict[str, list[tuple[K, float]]]) -> dict[K, float]:
            if fusion == "rrf":
                return rrf(lists, weights, self.settings.rrf_k)
            return zscore(lists, weights) if fusion == "zscore" else weighted(lists, weights)

        fused = fuse(rankings)
        if not self.settings.fuse_documents:
            return fused, sorted(fused, key=lambda c: -fused[c])
        # A passage's score is its document's fused score; within a document its own fused score orders it.
        document_of = self.store.docstore.document_of(list(fused))
        documents = fuse({name: best_per_document(r, document_of) for name, r in rankings.items()})
        score = {c: documents[document_of[c]] if c in document_of else fused[c] for c in fused}
        order = sorted(fused, key=lambda c: (-score[c], document_of.get(c, ""), -fused[c]))
        return score, per_document_cap(order, document_of, self.settings.max_per_document)

    def _passages(self, order: list[int], fused: dict[int, float],
                  rankings: dict[str, list[tuple[int, float]]]) -> list[Passage]:
        found = self.store.docstore.passages(order)
        by_name = {name: dict(r) for name, r in rankings.items()}
        out = []
        for cid in order:
            passage = found.get(cid)
            if passage is None:
                continue
            passage.score = float(fused[cid])
            passage.scores = {name: scores[cid] for name, scores in by_name.items() if cid in scores}
            out.append(passage)
        return out


def make_reranker(settings: RetrievalSettings) -> Reranker | None:
    """The configured reranker, or None when no model path is set."""
    return CrossEncoderReranker(settings.reranker_model) if settings.reranker_model else None
