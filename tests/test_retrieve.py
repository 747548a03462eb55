"""Retrieval: fusion arithmetic, diversity, filters and modes on a real index."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest

from ragmed.errors import RetrievalError
from ragmed.retrieve import best_per_document, mmr, rrf, weighted, zscore


@pytest.mark.unit
def test_rrf_matches_hand_computation():
    fused = rrf({"dense": [(1, 0.9), (2, 0.8)], "bm25": [(2, 7.0), (3, 5.0)]}, {"dense": 1.0, "bm25": 1.0}, k=60)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 62)
    assert max(fused, key=fused.get) == 2


@pytest.mark.unit
def test_weighted_fusion_normalises_each_ranking():
    fused = weighted({"dense": [(1, 0.9), (2, 0.5)], "bm25": [(2, 10.0), (3, 0.0)]}, {"dense": 2.0, "bm25": 1.0})
    assert fused == {1: pytest.approx(2.0), 2: pytest.approx(1.0), 3: pytest.approx(0.0)}


@pytest.mark.unit
def test_zscore_fusion_standardises_each_ranking_and_missing_counts_as_average():
    # dense scores 0.9, 0.5: mean 0.7, sd 0.2 -> z = +1, -1; bm25 10, 0: mean 5, sd 5 -> z = +1, -1
    fused = zscore({"dense": [(1, 0.9), (2, 0.5)], "bm25": [(2, 10.0), (3, 0.0)]}, {"dense": 1.0, "bm25": 0.5})
    assert fused == {1: pytest.approx(1.0), 2: pytest.approx(-1.0 + 0.5), 3: pytest.approx(-0.5)}
    assert zscore({"dense": [(7, 0.3)], "bm25": []}, {}) == {7: pytest.approx(0.0)}


@pytest.mark.unit
def test_best_per_document_ranks_documents_by_their_best_passage():
    ranking = [(10, 0.4), (11, 0.9), (20, 0.6), (99, 1.0)]
    assert best_per_document(ranking, {10: "a", 11: "a", 20: "b"}) == [("a", 0.9), ("b", 0.6)]


@pytest.mark.unit
def test_mmr_drops_near_duplicates_and_keeps_order_of_relevance():
    a = np.array([1.0, 0.0], dtype=np.float32)
    b = np.array([0.999, 0.0447], dtype=np.float32)
    b /= np.linalg.norm(b)
    c = np.array([0.0, 1.0], dtype=np.float32)
    chosen = mmr([1, 2, 3], {1: 3.0, 2: 2.9, 3: 1.0}, {1: a, 2: b, 3: c}, k=3, lam=0.8, dedup=0.95)
    assert chosen == [1, 3]


@pytest.mark.integration
def test_modes_and_filters_on_real_index(small_engine):
    query = "How is type 2 diabetes diagnosed?"
    for mode in ("dense", "bm25", "hybrid"):
        passages = small_engine.search(query, k=5, mode=mode)
        assert passages and any("diabet" in p.text.lower() or "diabet" in p.title.lower() for p in passages[:3]), mode
        assert all(p.url or p.source == "pubmedqa" for p in passages)
    hybrid = small_engine.search(query, k=5, mode="hybrid")
    assert {"dense", "bm25"} & set(hybrid[0].scores)
    only_pubmed = small_engine.search(query, k=5, filters={"sources": ["pubmedqa"]})
    assert only_pubmed and all(p.source == "pubmedqa" for p in only_pubmed)


@contextmanager
def retrieval_settings(engine, **changes):  # type: ignore[no-untyped-def]
    """The engine's retrieval settings with ``changes`` for the duration of the block."""
    saved = engine.retriever.settings
    engine.retriever.settings = saved.model_copy(update=changes)
    try:
        yield
    finally:
        engine.retriever.settings = saved


CROWDED = "asthma inhaler"  # one trial's abstract has many passages about inhalers
FLU = "flu vaccine for older adults"  # dense ranks a PubMed abstract first that BM25 does not find at all


@pytest.mark.integration
def test_hybrid_puts_first_a_document_both_retrievers_found(small_engine):
    dense = [p.doc_id for p in small_engine.search(FLU, k=10, mode="dense")]
    bm25 = [p.doc_id for p in small_engine.search(FLU, k=10, mode="bm25")]
    assert dense[0] not in bm25, (dense, bm25)  # the retrievers disagree on the best document
    for fusion in ("zscore", "rrf", "weighted"):
        for by_document in (True, False):
            with retrieval_settings(small_engine, fusion=fusion, fuse_documents=by_document):
                top = small_engine.search(FLU, k=10, mode="hybrid")[0]
            assert top.doc_id in dense and top.doc_id in bm25, (fusion, by_document, top.doc_id)
            assert top.doc_id != dense[0] and set(top.scores) == {"dense", "bm25"}, (fusion, by_document)


@pytest.mark.integration
def test_one_document_cannot_fill_the_top_of_hybrid_results(small_engine):
    with retrieval_settings(small_engine, fuse_documents=False):
        by_passage = small_engine.search(CROWDED, k=10, mode="hybrid")
    crowded, places = Counter(p.doc_id for p in by_passage).most_common(1)[0]
    assert places >= 3  # ranked passage by passage, one inhaler trial takes several of the ten places
    scores = [p.score for p in by_passage]
    assert scores == sorted(scores, reverse=True)
    for cap in (1, 2):
        with retrieval_settings(small_engine, fuse_documents=True, max_per_document=cap):
            hits = small_engine.search(CROWDED, k=10, mode="hybrid")
        assert Counter(p.doc_id for p in hits)[crowded] == cap
        per_document = Counter(p.doc_id for p in hits)
        assert len(hits) == 10 and max(per_document.values()) == cap and len(per_document) >= 10 // cap, per_document
        assert hits[0].doc_id == by_passage[0].doc_id  # a document ranks by its best passage: the first stays first


@pytest.mark.integration
def test_hybrid_returns_distinct_passages(small_engine):
    passages = small_engine.search("symptoms of diabetes", k=8, mode="hybrid")
    texts = [p.text for p in passages]
    assert len(set(texts)) == len(texts)


@pytest.mark.integration
def test_bad_search_requests_are_clear_errors(small_engine):
    with pytest.raises(RetrievalError, match="mode must be one of"):
        small_engine.search("x", mode="fuzzy")
    with pytest.raises(RetrievalError, match="k must be greater than 0, got 0"):
        small_engine.search("x", k=0)
