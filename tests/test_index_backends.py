"""Every index backend runs the contract tests; BM25 scores match bm25s's; text analysis stems with Snowball."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from index_contracts import DIM, LexicalIndexContract, VectorIndexContract, abstracts

from ragmed.config import IndexSettings
from ragmed.errors import ConfigError, IndexCorruptError, IndexError_
from ragmed.index.factory import load_lexical_index, load_vector_index, make_lexical_index, make_vector_index

pytestmark = pytest.mark.unit


def _settings(factory: str = "Flat") -> IndexSettings:
    return IndexSettings(root=Path("."), factory=factory, use_gpu=False)


class TestFaissFlat(VectorIndexContract):
    factory = "Flat"

    def make(self) -> Any:
        return make_vector_index(_settings(self.factory), DIM)

    def load(self, folder: Path, files: list[str]) -> Any:
        return load_vector_index(_settings(self.factory), folder, files, backend="faiss")


class TestFaissIVF(TestFaissFlat):
    factory = "IVF8,Flat"
    exact = False


class TestFaissHNSW(TestFaissFlat):
    """HNSW graphs cannot remove: removals stay tombstones until a merge rebuilds the graph."""

    factory = "HNSW16"
    exact = False


class TestFaissPQ(TestFaissFlat):
    """Plain PQ takes no search parameters: tombstones and filters are applied after a wider search."""

    factory = "PQ8x4"
    exact = False


class TestIVFPQ(VectorIndexContract):
    """IVF-PQ codes with the shortlist re-scored exactly from the stored vectors."""

    exact = False

    def settings(self) -> IndexSettings:
        return IndexSettings(root=Path("."), vector_backend="ivfpq", use_gpu=False, nprobe=4,
                             ivfpq={"nlist": 8, "m": 8, "nbits": 4, "k_factor": 8})

    def make(self) -> Any:
        return make_vector_index(self.settings(), DIM)

    def load(self, folder: Path, files: list[str]) -> Any:
        return load_vector_index(self.settings(), folder, files, backend="ivfpq")


class TestIVFPQOnDisk(TestIVFPQ):
    """The same with the inverted lists written to a memory-mapped .ivfdata file."""

    def settings(self) -> IndexSettings:
        return super().settings().model_copy(update={"ivfpq": super().settings().ivfpq.model_copy(
            update={"on_disk": True})})


class TestBM25(LexicalIndexContract):
    def make(self) -> Any:
        return make_lexical_index(_settings())

    def load(self, folder: Path, files: list[str]) -> Any:
        return load_lexical_index(_settings(), folder, files, backend="bm25")


def test_bm25_scores_after_adds_and_removes_equal_bm25s_over_the_remaining_texts() -> None:
    import bm25s

    from ragmed.index.analysis import analyze

    pairs = abstracts(200)
    ids = np.arange(len(pairs)) + 1
    index = make_lexical_index(_settings()).apply(ids[:100], [a for _, a in pairs[:100]], []).compact()
    for start in range(100, 200, 20):
        index = index.apply(ids[start:start + 20], [a for _, a in pairs[start:start + 20]], [])
    index = index.apply([], [], ids[5:150:4])
    live = [n for n in range(len(pairs)) if ids[n] not in set(ids[5:150:4])]
    reference = bm25s.BM25()
    reference.index([analyze(pairs[n][1]) for n in live], show_progress=False)
    for question, _ in pairs[::10]:
        ours = dict(index.search(question, len(pairs)))
        scores = reference.get_scores(analyze(question))
        theirs = {int(ids[live[j]]): float(s) for j, s in enumerate(scores) if s > 0}
        assert ours.keys() == theirs.keys()
        assert all(abs(ours[i] - theirs[i]) <= 1e-4 * max(1.0, theirs[i]) for i in ours)


def _bm25_with_changes(n: int = 160) -> tuple[Any, np.ndarray, list[str]]:
    """A BM25 index of ``n`` abstracts: a compacted base, segments added after it, and removals from both."""
    pairs = abstracts(n)
    ids = np.arange(len(pairs), dtype=np.int64) * 3 + 7
    index = make_lexical_index(_settings()).apply(ids[:80], [a for _, a in pairs[:80]], []).compact()
    for start in range(80, len(pairs), 20):
        index = index.apply(ids[start:start + 20], [a for _, a in pairs[start:start + 20]], [])
    index = index.apply([], [], ids[::9])
    return index, ids, [q for q, _ in pairs]


def test_bm25_memory_mapped_and_loaded_into_memory_give_the_same_scores_and_rankings(tmp_path: Path) -> None:
    from ragmed.index.lexical import CorpusStats

    index, ids, questions = _bm25_with_changes()
    files = index.save(tmp_path, "lexical-000001")
    mapped = load_lexical_index(_settings(), tmp_path, files, backend="bm25")
    loaded = load_lexical_index(IndexSettings(root=Path("."), bm25_mmap=False), tmp_path, files, backend="bm25")
    postings = mapped.segments[0].by_term
    assert all(isinstance(a, np.memmap) for a in (postings.indptr, postings.indices, postings.data))
    assert not isinstance(loaded.segments[0].by_term.indices, np.memmap)
    allowed, extra = ids[::2], CorpusStats(500, 90_000.0, {})
    for question in questions:
        expected = index.search(question, 10)
        assert expected and mapped.search(question, 10) == loaded.search(question, 10) == expected
        assert mapped.search(question, 5, allowed) == loaded.search(question, 5, allowed) == index.search(question, 5, allowed)
        corpus = index.statistics(question) + CorpusStats(extra.n, extra.total_length,
                                                          dict.fromkeys(index.statistics(question).df, 3.0))
        assert mapped.search(question, 10, corpus=corpus) == index.search(question, 10, corpus=corpus)


def test_bm25_changes_on_a_memory_mapped_index_rank_as_a_fresh_build_and_persist(tmp_path: Path) -> None:
    index, ids, questions = _bm25_with_changes()
    mapped = load_lexical_index(_settings(), tmp_path, index.save(tmp_path, "lexical-000001"), backend="bm25")
    new_ids, gone = np.array([10_000, 10_001]), ids[1:40:3]
    new_texts = [f"an abstract added after opening about {questions[0]}", "zebrafish regenerate their fins"]
    changed = mapped.apply(new_ids, new_texts, gone)
    reference = index.apply(new_ids, new_texts, gone)
    assert isinstance(changed.segments[0].by_term.indices, np.memmap), "the mapped base is shared, not copied"
    assert np.array_equal(changed.ids(), reference.ids()) and len(changed) == len(reference)
    for question in [*questions, "zebrafish fins"]:
        found = changed.search(question, 10)
        assert found == reference.search(question, 10)
        assert not np.isin([i for i, _ in found], gone).any()
    assert changed.search("zebrafish fins", 1)[0][0] == 10_001
    reopened = load_lexical_index(_settings(), tmp_path, changed.save(tmp_path, "lexical-000002"), backend="bm25")
    assert reopened.pending == 0 and np.array_equal(reopened.ids(), reference.ids())
    assert [reopened.search(q, 10) for q in questions] == [reference.search(q, 10) for q in questions]


@pytest.mark.parametrize("part", ["postings-rows", "postings-tf", "ids"])
def test_a_truncated_bm25_file_is_an_error_naming_it(tmp_path: Path, part: str) -> None:
    index, _, _ = _bm25_with_changes(60)
    files = index.save(tmp_path, "lexical-000001")
    damaged = tmp_path / f"lexical-000001.{part}.npy"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    for mmap in (True, False):
        settings = IndexSettings(root=Path("."), bm25_mmap=mmap)
        with pytest.raises(IndexCorruptError, match=damaged.name):
            load_lexical_index(settings, tmp_path, files, backend="bm25")
    damaged.unlink()
    with pytest.raises(IndexCorruptError, match=f"{damaged.name} is missing"):
        load_lexical_index(_settings(), tmp_path, files, backend="bm25")


def test_analysis_stems_with_snowball_and_drops_stop_words() -> None:
    from ragmed.index.analysis import analyze

    assert analyze("The studies of diabetic patients") == analyze("a study on diabetes patient")
    assert analyze("the and of") == []


def test_an_unknown_backend_or_factory_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="'annoy'"):
        make_vector_index(_settings(), DIM, backend="annoy")
    with pytest.raises(ConfigError, match="'tfidf'"):
        make_lexical_index(_settings(), backend="tfidf")
    with pytest.raises(IndexError_, match="IVFxx"):
        make_vector_index(_settings("IVFxx"), DIM)


def test_an_ivf_index_too_small_to_train_still_answers_exactly_until_it_can_be_merged() -> None:
    from index_contracts import unit_vectors

    vectors = unit_vectors(20)
    index = make_vector_index(_settings("IVF64,Flat"), DIM).apply(np.arange(20), vectors, [])
    assert index.search(vectors[3], 1)[1][0][0] == 3
    with pytest.raises(IndexError_, match="cannot train FAISS index 'IVF64,Flat' on 20 vectors"):
        index.compact()
