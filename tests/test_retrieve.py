"""Retrieval: fusion arithmetic, diversity, filters and modes on a real index."""

from __future__ import annotations

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


class _DocumentOf:
    def __init__(self, documents: dict[int, str]) -> None:
        self.documents = documents

    def document_of(self, ids):  # type: ignore[no-untyped-def]
        return {i: self.documents[i] for i in ids if i in self.documents}


@pytest.mark.unit
def test_document_fusion_ranks_a_document_on_both_retrievers_and_caps_its_passages():
    from types import SimpleNamespace

    from ragmed.config import RetrievalSettings
    from ragmed.retrieve import Retriever

    # document a: passage 1 is dense's best, passage 2 is BM25's best, passage 3 is in both lists lower down
    store = SimpleNamespace(docstore=_DocumentOf({1: "a", 2: "a", 3: "a", 4: "b", 5: "c", 6: "d", 7: "e"}))
    rankings = {"dense": [(1, 0.9), (4, 0.8), (6, 0.7), (2, 0.6), (3, 0.5), (5, 0.2)],
                "bm25": [(2, 9.0), (5, 6.0), (7, 5.0), (3, 4.0)]}
    capped = Retriever(store, None, RetrievalSettings(fusion="zscore", max_per_document=2))  # type: ignore[arg-type]
    score, order = capped._fuse(rankings)
    assert order == [1, 2, 4, 6, 7, 5, 3]  # a first; its third passage waits until every document had its turn
    assert score[1] == score[2] == score[3] > score[4] > score[6] > score[7] > score[5]
    uncapped = Retriever(store, None, RetrievalSettings(fusion="zscore", max_per_document=5))  # type: ignore[arg-type]
    assert uncapped._fuse(rankings)[1] == [1, 2, 3, 4, 6, 7, 5]
    by_passage = Retriever(store, None, RetrievalSettings(fusion="zscore", fuse_documents=False))  # type: ignore[arg-type]
    assert by_passage._fuse(rankings)[1] == [1, 2, 4, 6, 7, 3, 5]  # passage by passage: 3 ranks on its own scores


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


@pytest.mark.integration
def test_fusion_methods_rank_documents_found_by_both_retrievers(small_engine):
    query = "metformin for type 2 diabetes"
    dense = {p.doc_id for p in small_engine.search(query, k=10, mode="dense")}
    bm25 = {p.doc_id for p in small_engine.search(query, k=10, mode="bm25")}
    settings = small_engine.retriever.settings
    try:
        for fusion in ("zscore", "rrf", "weighted"):
            for by_document in (True, False):
                small_engine.retriever.settings = settings.model_copy(update={"fusion": fusion, "fuse_documents": by_document})
                hybrid = small_engine.search(query, k=10, mode="hybrid")
                assert hybrid[0].doc_id in dense | bm25, (fusion, by_document)
                scores = [p.score for p in hybrid]
                docs = [p.doc_id for p in hybrid]
                if by_document:  # no document holds more than max_per_document of the top passages
                    assert max(docs.count(d) for d in docs) <= settings.max_per_document, docs
                else:
                    assert scores == sorted(scores, reverse=True), fusion
    finally:
        small_engine.retriever.settings = settings


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
