"""Retrieval: dense, BM25 and hybrid (fused) search with filters, expansion, diversity and reranking."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

import numpy as np

from ragmed.config import RetrievalSettings
from ragmed.embedding import Embedder
from ragmed.errors import RetrievalError
from ragmed.index.docstore import Filters
from ragmed.index.protocols import SearchableIndex
from ragmed.text import is_blank
from ragmed.types import Concept, Passage

logger = logging.getLogger(__name__)
K = TypeVar("K", int, str)


@dataclass
class Query:
    """A query after expansion: the text for each retriever and the concepts it linked."""

    text: str
    dense_text: str
    lexical_text: str
    concepts: list[Concept] = field(default_factory=list)


Expander = Callable[[str], Query]


@runtime_checkable
class Reranker(Protocol):
    """The reranking stage: reorders retrieved passages by relevance to the query.

    A backend returns the same passages (none added or dropped), best first, with its score in
    ``passage.score`` and ``passage.scores["rerank"]``; ``make_reranker`` builds the configured one.
    """

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        ...


class CrossEncoderReranker:
    """sentence-transformers ``CrossEncoder`` from a local model path."""

    def __init__(self, model_path: str | Path) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(str(model_path), local_files_only=True)

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


RetrievalMode = Literal["dense", "bm25", "hybrid"]


@runtime_checkable
class Retriever(Protocol):
    """The retrieval stage: the top passages of an index for a query.

    Backends (``DenseRetriever``, ``BM25Retriever``, ``HybridRetriever``) each rank the index their own way
    and share filtering, diversity (MMR) and reranking; ``make_retriever`` builds the one a setting or a
    request names. ``tests/test_retrieve.py`` holds the contract every backend runs.
    """

    name: str

    def search(self, query: str, k: int | None = None, filters: Filters | None = None,
               expanded: Query | None = None) -> list[Passage]:
        """The top ``k`` passages for ``query`` (settings' ``top_k`` when None), best first.

        Raises:
            RetrievalError: a non-positive ``k`` or an empty query.
        """
        ...


class _RankingRetriever:
    """What the retrieval backends share: candidates from ``rankings``, then MMR, passages and reranking."""

    name = ""

    def __init__(self, store: SearchableIndex, embedder: Embedder, settings: RetrievalSettings,
                 expander: Expander | None = None, reranker: Reranker | None = None) -> None:
        self.store, self.embedder, self.settings = store, embedder, settings
        self.expander, self.reranker = expander, reranker

    def expand(self, query: str) -> Query:
        if self.expander is not None and self.settings.expand_query:
            return self.expander(query)
        return Query(query, query, query)

    def rankings(self, query: Query, depth: int, allowed: np.ndarray | None) -> dict[str, list[tuple[int, float]]]:
        """Each underlying ranking of at most ``depth`` ``(chunk id, score)``, best first."""
        raise NotImplementedError

    def dense(self, query: Query, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The dense ranking: inner product of the passages' embeddings with the query's."""
        return self.store.dense_search(self.embedder.encode_query(query.dense_text), depth, allowed)

    def bm25(self, query: Query, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The lexical ranking (BM25) of the query's words."""
        return self.store.bm25_search(query.lexical_text, depth, allowed)

    def order(self, rankings: dict[str, list[tuple[int, float]]]) -> tuple[dict[int, float], list[int]]:
        """The score of every candidate and their order, best first (a single ranking's own by default)."""
        (ranking,) = rankings.values()
        return dict(ranking), [cid for cid, _ in ranking]

    def search(self, query: str, k: int | None = None, filters: Filters | None = None,
               expanded: Query | None = None) -> list[Passage]:
        k = self.settings.top_k if k is None else k
        if k <= 0:
            raise RetrievalError(f"k must be greater than 0, got {k}")
        if is_blank(query):
            raise RetrievalError("query must not be empty")
        q = expanded or self.expand(query)
        allowed = self.store.allowed_ids(filters)
        depth = max(self.settings.candidates, k)
        rankings = self.rankings(q, depth, allowed)
        fused, order = self.order(rankings)
        order = order[:depth]
        if self.settings.mmr_lambda < 1.0 or self.settings.dedup_threshold < 1.0:
            rank_relevance = {cid: -float(i) for i, cid in enumerate(order)}
            order = mmr(order, rank_relevance, self.store.docstore.vectors(order), k * 2 if self.reranker else k,
                        self.settings.mmr_lambda, self.settings.dedup_threshold)
        passages = self._passages(order, fused, rankings)
        if self.reranker is not None:
            passages = self.reranker.rerank(query, passages)
        return passages[:k]

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


class DenseRetriever(_RankingRetriever):
    """Passages ranked by the inner product of their embedding with the (expanded) query's."""

    name = "dense"

    def rankings(self, query: Query, depth: int, allowed: np.ndarray | None) -> dict[str, list[tuple[int, float]]]:
        return {"dense": self.dense(query, depth, allowed)}


class BM25Retriever(_RankingRetriever):
    """Passages ranked by the lexical index (BM25) on the (expanded) query's words."""

    name = "bm25"

    def rankings(self, query: Query, depth: int, allowed: np.ndarray | None) -> dict[str, list[tuple[int, float]]]:
        return {"bm25": self.bm25(query, depth, allowed)}


class HybridRetriever(_RankingRetriever):
    """The dense and BM25 rankings fused (``settings.fusion``), by document when ``settings.fuse_documents``."""

    name = "hybrid"

    def rankings(self, query: Query, depth: int, allowed: np.ndarray | None) -> dict[str, list[tuple[int, float]]]:
        return {"dense": self.dense(query, depth, allowed), "bm25": self.bm25(query, depth, allowed)}

    def order(self, rankings: dict[str, list[tuple[int, float]]]) -> tuple[dict[int, float], list[int]]:
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


#: The retrieval backends by mode name; ``make_retriever`` is the one place a mode name is looked up.
RETRIEVERS: dict[str, type[_RankingRetriever]] = {
    "dense": DenseRetriever, "bm25": BM25Retriever, "hybrid": HybridRetriever}
MODES: tuple[str, ...] = tuple(RETRIEVERS)


def make_retriever(store: SearchableIndex, embedder: Embedder, settings: RetrievalSettings, mode: str | None = None, *,
                   expander: Expander | None = None, reranker: Reranker | None = None) -> Retriever:
    """The retriever for ``mode`` (``settings.mode`` when None).

    Raises:
        RetrievalError: an unknown mode.
    """
    name = mode or settings.mode
    if name not in RETRIEVERS:
        raise RetrievalError(f"mode must be one of {', '.join(MODES)}, got {name!r}")
    return RETRIEVERS[name](store, embedder, settings, expander, reranker)


class Retrieval:
    """The retrieval stage of an engine: query expansion and a search by the configured retriever or the
    one a request names.

    Example:
        >>> retrieval = Retrieval(store, embedder, RetrievalSettings())
        >>> retrieval.search("symptoms of type 2 diabetes", k=5, mode="hybrid")
    """

    def __init__(self, store: SearchableIndex, embedder: Embedder, settings: RetrievalSettings,
                 expander: Expander | None = None, reranker: Reranker | None = None) -> None:
        self.store, self.embedder, self.settings = store, embedder, settings
        self.expander, self.reranker = expander, reranker

    def retriever(self, mode: str | None = None) -> Retriever:
        """The retriever for ``mode`` (the settings' when None) over this index, with the current settings."""
        return make_retriever(self.store, self.embedder, self.settings, mode,
                              expander=self.expander, reranker=self.reranker)

    def expand(self, query: str) -> Query:
        """``query`` expanded with linked concepts when an expander is set and expansion is on."""
        if self.expander is not None and self.settings.expand_query:
            return self.expander(query)
        return Query(query, query, query)

    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: Filters | None = None, expanded: Query | None = None) -> list[Passage]:
        """Return the top ``k`` passages for ``query``.

        Args:
            query: the question or search text.
            k: passages returned (settings.top_k when None).
            mode: a retriever name, ``MODES`` (settings.mode when None).
            filters: metadata filters applied before ranking.
            expanded: a query already expanded by the caller.

        Raises:
            RetrievalError: an unknown mode, a non-positive k, or an empty query.
        """
        return self.retriever(mode).search(query, k=k, filters=filters, expanded=expanded)


def make_reranker(settings: RetrievalSettings) -> Reranker | None:
    """The configured reranker, or None when no model path is set."""
    return CrossEncoderReranker(settings.reranker_model) if settings.reranker_model else None
