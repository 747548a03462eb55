"""Contract tests for the index stage's interfaces: every ``VectorIndex`` and ``LexicalIndex`` backend runs them.

A backend's test class inherits the mixin and defines ``make()`` (an empty index) and ``load(folder,
files)`` (read what ``save`` wrote). The mixins use real data: PubMedQA abstracts from the bundled
knowledge for texts, and vectors drawn at random (the mechanics do not depend on what they encode).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from conftest import KNOWLEDGE

DIM = 32


def abstracts(n: int = 120) -> list[tuple[str, str]]:
    """``(question, abstract)`` pairs from the bundled PubMedQA file."""
    records = json.loads((KNOWLEDGE / "literature" / "pubmedqa" / "pqal_public_500.json").read_text())
    return [(r["QUESTION"], " ".join(r["CONTEXTS"])) for r in list(records.values())[:n]]


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class VectorIndexContract:
    """What every vector index backend must do."""

    exact = True  # whether searches are exact (approximate backends are checked on recall instead)

    def make(self) -> Any:
        raise NotImplementedError

    def load(self, folder: Path, files: list[str]) -> Any:
        raise NotImplementedError

    def filled(self, n: int = 400) -> tuple[Any, np.ndarray, np.ndarray]:
        vectors = unit_vectors(n)
        ids = np.arange(n, dtype=np.int64) * 3 + 10
        index = self.make().apply(ids[: n // 2], vectors[: n // 2], []).compact()
        for start in range(n // 2, n, 25):  # the rest as separate writes, held beside the base
            index = index.apply(ids[start:start + 25], vectors[start:start + 25], [])
        return index, ids, vectors

    def test_each_vector_finds_itself_first(self) -> None:
        index, ids, vectors = self.filled()
        _, found = index.search(vectors[::7], 1)
        hits = np.mean(found[:, 0] == ids[::7])
        assert hits == 1.0 if self.exact else hits >= 0.9

    def test_removed_ids_are_never_returned_and_counts_agree(self) -> None:
        index, ids, vectors = self.filled()
        gone = ids[::5]
        after = index.apply([], np.empty((0, DIM), dtype=np.float32), gone)
        _, found = after.search(vectors[::5], 10)
        assert not np.isin(found, gone).any()
        live = np.setdiff1d(ids, gone)
        assert len(after) == len(live) and np.array_equal(after.ids(), live)

    def test_removing_ids_it_does_not_hold_changes_nothing(self) -> None:
        index, ids, _ = self.filled()
        after = index.apply([], np.empty((0, DIM), dtype=np.float32), [1, 2, 999_999])
        assert len(after) == len(index) and np.array_equal(after.ids(), ids)

    def test_allowed_ids_limit_the_results(self) -> None:
        index, ids, vectors = self.filled()
        allowed = ids[1::4]
        _, found = index.search(vectors[:20], 5, allowed)
        assert (found >= 0).sum() > 0 and np.isin(found[found >= 0], allowed).all()

    def test_a_change_leaves_the_index_it_was_applied_to_unchanged(self) -> None:
        index, ids, vectors = self.filled()
        before = index.search(vectors[:10], 5)
        index.apply(ids[:50] + 1, unit_vectors(50, seed=1), ids[:100])
        after = index.search(vectors[:10], 5)
        assert np.array_equal(before[1], after[1]) and np.array_equal(index.ids(), ids)

    def test_compact_and_reload_keep_ids_and_results(self, tmp_path: Path) -> None:
        index, ids, vectors = self.filled()
        index = index.apply([], np.empty((0, DIM), dtype=np.float32), ids[::9])
        assert index.pending > 0
        compacted = index.compact()
        assert compacted.pending == 0 and np.array_equal(compacted.ids(), index.ids())
        if self.exact:
            assert np.array_equal(compacted.search(vectors[:30], 5)[1], index.search(vectors[:30], 5)[1])
        reloaded = self.load(tmp_path, index.save(tmp_path, "dense-test"))
        assert np.array_equal(reloaded.ids(), index.ids()) and len(reloaded) == len(index)
        assert np.array_equal(reloaded.search(vectors[:30], 5)[1], compacted.search(vectors[:30], 5)[1])


class LexicalIndexContract:
    """What every lexical index backend must do."""

    def make(self) -> Any:
        raise NotImplementedError

    def load(self, folder: Path, files: list[str]) -> Any:
        raise NotImplementedError

    def filled(self) -> tuple[Any, np.ndarray, list[tuple[str, str]]]:
        pairs = abstracts()
        ids = np.arange(len(pairs), dtype=np.int64) * 2 + 1
        index = self.make().apply(ids[:60], [a for _, a in pairs[:60]], []).compact()
        for start in range(60, len(pairs), 15):
            index = index.apply(ids[start:start + 15], [a for _, a in pairs[start:start + 15]], [])
        return index, ids, pairs

    def test_questions_find_their_own_abstracts(self) -> None:
        index, ids, pairs = self.filled()
        hits = sum(index.search(q, 1)[0][0] == i for i, (q, _) in zip(ids, pairs, strict=True) if index.search(q, 1))
        assert hits >= 0.8 * len(pairs)

    def test_removed_ids_are_never_returned_and_counts_agree(self) -> None:
        index, ids, pairs = self.filled()
        gone = ids[::3]
        after = index.apply([], [], gone)
        for question, _ in pairs[::3]:
            assert not np.isin([i for i, _ in after.search(question, 20)], gone).any()
        live = np.setdiff1d(ids, gone)
        assert len(after) == len(live) and np.array_equal(after.ids(), live)

    def test_removing_ids_it_does_not_hold_changes_nothing(self) -> None:
        index, ids, pairs = self.filled()
        after = index.apply([], [], [2, 4, 999_999])
        assert np.array_equal(after.ids(), ids) and after.search(pairs[0][0], 5) == index.search(pairs[0][0], 5)

    def test_allowed_ids_limit_the_results(self) -> None:
        index, ids, pairs = self.filled()
        allowed = ids[::4]
        found = [i for q, _ in pairs[:20] for i, _ in index.search(q, 5, allowed)]
        assert found and np.isin(found, allowed).all()

    def test_a_change_leaves_the_index_it_was_applied_to_unchanged(self) -> None:
        index, ids, pairs = self.filled()
        before = [index.search(q, 5) for q, _ in pairs[:10]]
        index.apply([10_001], ["an entirely new abstract about " + pairs[0][0]], ids[:10])
        assert [index.search(q, 5) for q, _ in pairs[:10]] == before

    def test_compact_and_reload_keep_ids_and_results(self, tmp_path: Path) -> None:
        index, ids, pairs = self.filled()
        index = index.apply([], [], ids[::7])
        assert index.pending > 0
        expected = [[i for i, _ in index.search(q, 5)] for q, _ in pairs[:30]]
        reloaded = self.load(tmp_path, index.save(tmp_path, "lexical-test"))
        assert np.array_equal(reloaded.ids(), index.ids()) and len(reloaded) == len(index)
        assert [[i for i, _ in reloaded.search(q, 5)] for q, _ in pairs[:30]] == expected
