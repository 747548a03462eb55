"""Every index backend runs the contract tests; BM25 scores match bm25s's; text analysis stems with Snowball."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from index_contracts import DIM, LexicalIndexContract, VectorIndexContract, abstracts

from ragmed.config import IndexSettings
from ragmed.errors import ConfigError, IndexError_
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
