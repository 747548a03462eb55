"""The interfaces of the index stage: a vector index, a lexical index, and what retrieval searches.

The vector and lexical indexes are immutable values: ``apply`` returns a new index that shares unchanged
data with the old one, so a reader holding the old one keeps a consistent snapshot while a write is
applied. Both are keyed by the docstore's chunk ids. A backend for either lives in its own module and is chosen by
``ragmed.index.factory`` from ``IndexSettings``; ``tests/index_contracts.py`` holds the contract
tests every backend runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ragmed.index.docstore import Filters
from ragmed.index.lexical import CorpusStats
from ragmed.types import Passage


class VectorIndex(Protocol):
    """Chunk vectors searched by inner product."""

    @property
    def dimension(self) -> int: ...

    @property
    def pending(self) -> int:
        """Changes held beside the compacted base (added vectors and removed ids)."""
        ...

    def __len__(self) -> int: ...

    def ids(self) -> np.ndarray:
        """Ids of the live vectors, ascending."""
        ...

    def apply(self, add_ids: Sequence[int] | np.ndarray, add_vectors: np.ndarray,
              remove_ids: Sequence[int] | np.ndarray) -> VectorIndex:
        """A new index with ``remove_ids`` gone and the vectors added; this one is unchanged."""
        ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of shape ``(n_queries, k)``, best first; id -1 where fewer were found."""
        ...

    def compact(self) -> VectorIndex:
        """The same vectors with every pending change folded into the base."""
        ...

    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted index into ``folder`` under names starting with ``stem``; return the names."""
        ...


class LexicalIndex(Protocol):
    """Chunk texts searched by a lexical ranking function (BM25)."""

    @property
    def pending(self) -> int:
        """Changes held beside the compacted base (added texts and removed ids)."""
        ...

    def __len__(self) -> int: ...

    def ids(self) -> np.ndarray:
        """Ids of the live texts, ascending."""
        ...

    def apply(self, add_ids: Sequence[int] | np.ndarray, add_texts: Sequence[str],
              remove_ids: Sequence[int] | np.ndarray) -> LexicalIndex:
        """A new index with ``remove_ids`` gone and the texts added; this one is unchanged."""
        ...

    def search(self, query: str, k: int, allowed: np.ndarray | None = None,
               corpus: CorpusStats | None = None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` pairs with a positive score, best first; scored with ``corpus``'s
        collection statistics instead of this index's own when given (several shards ranked as one)."""
        ...

    def statistics(self, query: str) -> CorpusStats:
        """The collection statistics the terms of ``query`` are scored with here."""
        ...

    def compact(self) -> LexicalIndex:
        """The same texts with every pending change folded into the base."""
        ...

    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted index into ``folder`` under names starting with ``stem``; return the names."""
        ...


class DocumentLookup(Protocol):
    """What retrieval reads from a docstore beside the rankings."""

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]: ...

    def document_of(self, chunk_ids: Sequence[int]) -> dict[int, str]: ...

    def vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]: ...


class SearchableIndex(Protocol):
    """What retrieval searches: one ``IndexStore``, or several shards searched as one (``ShardSet``)."""

    @property
    def docstore(self) -> DocumentLookup: ...

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Chunk ids passing ``filters``, or None when there is nothing to filter."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` by inner product with ``vector``."""
        ...

    def bm25_search(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` by the lexical ranking of ``query``."""
        ...
