"""Dense vector index: FAISS with 64-bit ids, any factory string, GPU search when available.

A ``FaissIndex`` never changes once made. ``apply`` returns a new index that shares the FAISS base
with this one and holds the change beside it: added vectors in small segments searched exactly
with numpy, removed ids as tombstones that a FAISS ``IDSelector`` skips. A search that holds the old
index is never disturbed by a write. ``compact`` folds segments and tombstones into a new base (in
place on a copy where the factory supports removal, by rebuilding where it does not, e.g. HNSW);
only a compacted base is written to disk, with faiss's own writer (no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.errors import IndexCorruptError, IndexError_
from ragmed.index.atomic import atomic_write

logger = logging.getLogger(__name__)
MAX_SEGMENTS = 8
"""Segments kept beside the base before they are merged into one."""


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise IndexError_("faiss is not available - install faiss-cpu (or ragmed[gpu] for faiss-gpu)") from exc
    return faiss


def gpu_count() -> int:
    """Number of GPUs faiss can use (0 on a CPU-only build)."""
    faiss = _faiss()
    return int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0


@dataclass(frozen=True)
class DenseOptions:
    """How a FAISS index is made and searched."""

    factory: str = "Flat"
    use_gpu: bool = True
    nprobe: int = 16
    ef_search: int = 64
    threads: int = 1


@dataclass(frozen=True)
class Segment:
    """Vectors added since the base was written, searched exactly until a merge folds them in."""

    ids: np.ndarray
    vectors: np.ndarray


class _Shared:
    """What every version sharing one FAISS base also shares: its sorted ids and its GPU copy."""

    def __init__(self, base: Any, use_gpu: bool, threads: int) -> None:
        faiss = _faiss()
        if threads:
            faiss.omp_set_num_threads(threads)
        self.ids = np.sort(faiss.vector_to_array(base.id_map).astype(np.int64)) if base.ntotal else \
            np.empty(0, dtype=np.int64)
        self.use_gpu = use_gpu and gpu_count() > 0
        self._gpu: Any = None
        self._resources: Any = None
        self.selectors = True

    def searcher(self, base: Any) -> Any:
        if not self.use_gpu:
            return base
        if self._gpu is None:
            faiss = _faiss()
            self._resources = faiss.StandardGpuResources()
            self._gpu = faiss.index_cpu_to_gpu(self._resources, 0, base)
        return self._gpu


class SegmentedIndex:
    """What a vector index made of a shared base plus exact segments and tombstones has in common."""

    segments: tuple[Segment, ...]
    tombstones: np.ndarray
    _count: int
    _selector: Any

    def _base_ids(self) -> np.ndarray:
        """Ids held by the base, ascending."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self._count

    @property
    def pending(self) -> int:
        """Vectors and tombstones held outside the base (what ``compact`` would fold in)."""
        return sum(len(s.ids) for s in self.segments) + len(self.tombstones)

    def ids(self) -> np.ndarray:
        """Ids of the live vectors, ascending."""
        every = np.concatenate([self._base_ids(), *[s.ids for s in self.segments]])
        return np.setdiff1d(every, self.tombstones) if len(self.tombstones) else np.sort(every)

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def _changed(self, add_ids: Sequence[int] | np.ndarray, add_vectors: np.ndarray,
                 remove_ids: Sequence[int] | np.ndarray) -> tuple[tuple[Segment, ...], np.ndarray]:
        """Segments and tombstones after adding ``add_vectors`` under ``add_ids`` and removing ``remove_ids``.

        Raises:
            IndexError_: the vectors do not have the index's dimension.
        """
        add = np.asarray(add_ids, dtype=np.int64)
        vectors = np.ascontiguousarray(add_vectors, dtype=np.float32).reshape(len(add), -1) if len(add) else None
        if vectors is not None and vectors.shape[1] != self.dimension:
            raise IndexError_(f"vectors have dimension {vectors.shape[1]}, the index {self.dimension}")
        return with_change(self._base_ids(), self.segments, self.tombstones, add, vectors,
                           np.asarray(remove_ids, dtype=np.int64))

    def _selector_for(self, allowed: np.ndarray | None) -> Any:
        """A FAISS id selector skipping tombstones and, when given, ids not in ``allowed`` (None: select all)."""
        selector = self._tombstone_selector()
        if allowed is not None:
            keep = _faiss().IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            selector = _faiss().IDSelectorAnd(keep, selector) if selector is not None else keep
            selector.referenced = keep  # keep the wrapped selector alive as long as this one
        return selector

    def _tombstone_selector(self) -> Any:
        if not len(self.tombstones):
            return None
        if self._selector is None:
            faiss = _faiss()
            batch = faiss.IDSelectorBatch(self.tombstones)
            selector = faiss.IDSelectorNot(batch)
            selector.referenced = batch
            self._selector = selector
        return self._selector


class FaissIndex(SegmentedIndex):
    """A FAISS base (``IndexIDMap2``, so chunks keep their 64-bit ids) plus exact segments and tombstones.

    Example:
        >>> index = FaissIndex.create(384).apply([7], np.ones((1, 384), dtype="float32") / 384 ** 0.5, [])
        >>> index.search(np.ones(384, dtype="float32"), 1)[1][0][0]
        7
    """

    def __init__(self, base: Any, options: DenseOptions, segments: tuple[Segment, ...] = (),
                 tombstones: np.ndarray | None = None, shared: _Shared | None = None) -> None:
        self.base, self.options, self.segments = base, options, segments
        self.tombstones = tombstones if tombstones is not None else np.empty(0, dtype=np.int64)
        self._shared = shared or _Shared(base, options.use_gpu, options.threads)
        self._count = int(base.ntotal) + sum(len(s.ids) for s in segments) - len(self.tombstones)
        self._selector: Any = None

    @classmethod
    def create(cls, dimension: int, options: DenseOptions | None = None) -> FaissIndex:
        """An empty inner-product index from a factory string (e.g. "Flat", "IVF256,PQ16", "HNSW32").

        Raises:
            IndexError_: the factory string is not understood by faiss.
        """
        options = options or DenseOptions()
        return cls(_new_base(dimension, options.factory), options)

    @classmethod
    def load(cls, folder: Path, files: Sequence[str], options: DenseOptions) -> FaissIndex:
        """Read a base written by ``save``.

        Raises:
            IndexCorruptError: the file cannot be read as a FAISS index with ids.
        """
        faiss = _faiss()
        path = folder / files[0]
        try:
            base = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read FAISS index {path}: {exc}") from exc
        if not hasattr(base, "id_map"):
            raise IndexCorruptError(f"FAISS index {path} has no id map (expected IndexIDMap2)")
        return cls(base, options)

    # -- what it holds ----------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self.base.d)

    @property
    def use_gpu(self) -> bool:
        return self._shared.use_gpu

    def _base_ids(self) -> np.ndarray:
        return self._shared.ids

    # -- changes ----------------------------------------------------------------------
    def apply(self, add_ids: Sequence[int] | np.ndarray, add_vectors: np.ndarray,
              remove_ids: Sequence[int] | np.ndarray) -> FaissIndex:
        """A new index with ``remove_ids`` gone and ``add_vectors`` added under ``add_ids``; this one is unchanged.

        Ids that are not in the index are ignored on removal; an added id must not be live already.

        Raises:
            IndexError_: the vectors do not have the index's dimension.
        """
        segments, tombstones = self._changed(add_ids, add_vectors, remove_ids)
        return FaissIndex(self.base, self.options, segments, tombstones, self._shared)

    def compact(self) -> FaissIndex:
        """The same vectors in one FAISS base, without segments or tombstones.

        Raises:
            IndexError_: the factory needs training and there are too few vectors for it.
        """
        if not self.segments and not len(self.tombstones):
            return self
        faiss = _faiss()
        ids = np.concatenate([s.ids for s in self.segments]) if self.segments else np.empty(0, dtype=np.int64)
        vectors = np.concatenate([s.vectors for s in self.segments]) if self.segments else \
            np.empty((0, self.dimension), dtype=np.float32)
        live = ~np.isin(ids, self.tombstones)
        ids, vectors = ids[live], vectors[live]
        gone = self.tombstones[member(self._shared.ids, self.tombstones)]
        base = None
        if self.base.is_trained and self.base.ntotal:
            base = faiss.clone_index(self.base)
            if len(gone) and isinstance(faiss.downcast_index(base.index), faiss.IndexFlatCodes):
                base.remove_ids(faiss.IDSelectorBatch(gone))  # flat storage compacts in id-map order
            elif len(gone):
                # IVF lists and HNSW graphs do not remove in step with the id map: re-add what stays
                ivf = faiss.try_extract_index_ivf(base.index)
                if ivf is not None:
                    ivf.make_direct_map()
                keep = np.setdiff1d(self._shared.ids, gone)
                ids = np.concatenate([keep, ids])
                vectors = np.concatenate([base.reconstruct_batch(keep), vectors])
                base.reset()
        if base is None:
            base = _new_base(self.dimension, self.options.factory)
            if not base.is_trained and len(vectors):
                _train(base, vectors, self.options.factory)
        if len(ids):
            base.add_with_ids(vectors, ids)
        return FaissIndex(base, self.options)

    # -- search -----------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner-product search; ``allowed`` restricts results to those ids.

        Returns:
            ``(scores, ids)`` arrays of shape ``(n_queries, k)``, best first; missing results have id -1.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, int(k))
        parts = [self._search_base(q, k, allowed)] if self.base.ntotal else []
        parts += [exact_search(s.ids, s.vectors, q, k, self.tombstones, allowed) for s in self.segments]
        return merge_results(parts, len(q), k)

    def _search_base(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        index = self._shared.searcher(self.base)
        if self.use_gpu or not self._shared.selectors:  # no id selectors there: search wider, then filter
            wide = min(int(self.base.ntotal), k + len(self.tombstones) + (max(k * 20, 200) if allowed is not None else 0))
            scores, ids = index.search(q, wide)
            drop = np.isin(ids, self.tombstones) | (~np.isin(ids, allowed) if allowed is not None else False)
            ids = np.where(drop, -1, ids)
            return np.where(drop, -np.inf, scores), ids
        params = self._params(faiss, self._selector_for(allowed))
        take = min(k, int(self.base.ntotal))
        try:
            found: tuple[np.ndarray, np.ndarray] = (index.search(q, take, params=params) if params is not None
                                                    else index.search(q, take))
            return found
        except RuntimeError:
            if params is None:
                raise
            self._shared.selectors = False  # e.g. a plain PQ index takes no search parameters
            return self._search_base(q, k, allowed)

    def _params(self, faiss: Any, selector: Any) -> Any:
        upper = self.options.factory.upper()
        if "IVF" in upper:
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.options.nprobe)
        if "HNSW" in upper:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.options.ef_search)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted base as ``<stem>.faiss`` in ``folder`` (atomically); return the file names."""
        faiss = _faiss()
        base = self.compact().base
        name = f"{stem}.faiss"
        atomic_write(folder / name, lambda tmp: faiss.write_index(base, str(tmp)))
        return [name]


def with_change(base_ids: np.ndarray, segments: tuple[Segment, ...], tombstones: np.ndarray, add: np.ndarray,
                vectors: np.ndarray | None, remove: np.ndarray) -> tuple[tuple[Segment, ...], np.ndarray]:
    """Segments and tombstones after adding ``vectors`` under ``add`` and removing ``remove``.

    Args:
        base_ids: ids held by the base, ascending.
        segments: exact segments held beside the base.
        tombstones: removed ids the base (or a segment) still holds.
        add: ids of the added vectors.
        vectors: the added vectors, or None when nothing is added.
        remove: ids to remove; those not held are ignored.

    Returns:
        The new ``(segments, tombstones)``; past ``MAX_SEGMENTS`` the segments are merged into one.
    """
    removed = _live_among(base_ids, segments, tombstones, remove)
    tombstones = np.union1d(tombstones, removed) if len(removed) else tombstones
    segments = (*segments, Segment(add, vectors)) if vectors is not None else segments
    if len(segments) > MAX_SEGMENTS:
        ids = np.concatenate([s.ids for s in segments])
        live = ~np.isin(ids, tombstones)
        segments = (Segment(ids[live], np.concatenate([s.vectors for s in segments])[live]),)
        tombstones = tombstones[member(base_ids, tombstones)]
    return segments, tombstones


def _live_among(base_ids: np.ndarray, segments: tuple[Segment, ...], tombstones: np.ndarray,
                ids: np.ndarray) -> np.ndarray:
    if not len(ids):
        return ids
    ids = np.unique(ids)
    held = member(base_ids, ids)
    for segment in segments:
        held |= np.isin(ids, segment.ids)
    return np.setdiff1d(ids[held], tombstones)


def exact_search(ids: np.ndarray, vectors: np.ndarray, q: np.ndarray, k: int, tombstones: np.ndarray,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of ``vectors`` (ids ``ids``) by inner product with ``q``, skipping tombstones and ids not allowed.

    Returns:
        ``(scores, ids)`` of shape ``(len(q), min(k, len(ids)))``, unordered; id -1 where nothing passed.
    """
    scores = q @ vectors.T
    mask = np.ones(len(ids), dtype=bool)
    if len(tombstones):
        mask &= ~np.isin(ids, tombstones)
    if allowed is not None:
        mask &= np.isin(ids, allowed)
    scores[:, ~mask] = -np.inf
    take = min(k, len(ids))
    top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    found = np.where(np.take_along_axis(scores, top, axis=1) > -np.inf, ids[top], -1)
    return np.take_along_axis(scores, top, axis=1), found


def merge_results(parts: Sequence[tuple[np.ndarray, np.ndarray]], n_queries: int,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of several ``(scores, ids)`` results per query (ties by lower id), id -1 where none.

    Returns:
        ``(scores, ids)`` of shape ``(n_queries, k)``, best first.
    """
    scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    ids = np.full((n_queries, k), -1, dtype=np.int64)
    if not parts:
        return scores, ids
    all_scores = np.concatenate([p[0] for p in parts], axis=1)
    all_ids = np.concatenate([p[1] for p in parts], axis=1)
    all_scores[all_ids < 0] = -np.inf
    for row in range(n_queries):
        order = np.lexsort((all_ids[row], -all_scores[row]))[:k]
        order = order[all_ids[row][order] >= 0]
        scores[row, :len(order)], ids[row, :len(order)] = all_scores[row][order], all_ids[row][order]
    return scores, ids


def member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which ``ids`` are in ``sorted_ids`` (ascending)."""
    if not len(sorted_ids) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.asarray(sorted_ids[pos] == ids)


def _new_base(dimension: int, factory: str) -> Any:
    faiss = _faiss()
    try:
        inner = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise IndexError_(f"invalid FAISS factory string {factory!r}: {exc}") from exc
    return faiss.IndexIDMap2(inner)


def _train(base: Any, vectors: np.ndarray, factory: str) -> None:
    try:
        base.train(np.ascontiguousarray(vectors, dtype=np.float32))
    except RuntimeError as exc:
        raise IndexError_(
            f"cannot train FAISS index {factory!r} on {len(vectors)} vectors: {exc}; "
            "use a smaller factory (e.g. Flat) for small corpora") from exc
