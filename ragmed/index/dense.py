"""Dense vector index: FAISS with 64-bit ids, any factory string, GPU search when available."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ragmed.errors import IndexCorruptError, IndexError_
from ragmed.index.atomic import atomic_write

logger = logging.getLogger(__name__)


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:
        raise IndexError_("faiss is not available - install faiss-cpu (or ragmed[gpu] for faiss-gpu)") from exc
    return faiss


def gpu_count() -> int:
    """Number of GPUs faiss can use (0 on a CPU-only build)."""
    faiss = _faiss()
    return int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0


class FaissIndex:
    """A FAISS index wrapped in ``IndexIDMap2`` so chunks keep their 64-bit ids.

    The master copy stays on the CPU (adds, deletes and saves happen there); when faiss reports a
    GPU and ``use_gpu`` is set, searches run on a GPU copy refreshed after each change.

    Example:
        >>> index = FaissIndex.create(384, "Flat")
        >>> index.add(np.array([7]), np.ones((1, 384), dtype="float32") / 384 ** 0.5)
        >>> index.search(np.ones(384, dtype="float32"), 1)[1][0]
        7
    """

    def __init__(self, index, factory: str, *, use_gpu: bool = True, nprobe: int = 16, ef_search: int = 64) -> None:  # type: ignore[no-untyped-def]
        self.cpu = index
        self.factory = factory
        self.use_gpu = use_gpu and gpu_count() > 0
        self.nprobe, self.ef_search = nprobe, ef_search
        self._gpu = None
        self._dirty = True

    @classmethod
    def create(cls, dimension: int, factory: str = "Flat", **kwargs: object) -> FaissIndex:
        """Make an empty inner-product index from a factory string (e.g. "Flat", "IVF256,PQ16", "HNSW32").

        Raises:
            IndexError_: the factory string is not understood by faiss.
        """
        faiss = _faiss()
        try:
            inner = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise IndexError_(f"invalid FAISS factory string {factory!r}: {exc}") from exc
        return cls(faiss.IndexIDMap2(inner), factory, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path, factory: str, **kwargs: object) -> FaissIndex:
        """Read an index written by ``save``.

        Raises:
            IndexCorruptError: the file cannot be read as a FAISS index.
        """
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read FAISS index {path}: {exc}") from exc
        return cls(index, factory, **kwargs)  # type: ignore[arg-type]

    @property
    def dimension(self) -> int:
        return int(self.cpu.d)

    @property
    def ntotal(self) -> int:
        return int(self.cpu.ntotal)

    @property
    def is_trained(self) -> bool:
        return bool(self.cpu.is_trained)

    @property
    def can_remove(self) -> bool:
        """Whether ids can be removed in place (HNSW graphs cannot; they are rebuilt instead)."""
        return "HNSW" not in self.factory.upper()

    def train(self, vectors: np.ndarray) -> None:
        """Train IVF/PQ quantisers on representative vectors.

        Raises:
            IndexError_: too few vectors for the factory (e.g. fewer than the IVF list count).
        """
        try:
            self.cpu.train(np.ascontiguousarray(vectors, dtype=np.float32))
        except RuntimeError as exc:
            raise IndexError_(
                f"cannot train FAISS index {self.factory!r} on {len(vectors)} vectors: {exc}; "
                "use a smaller factory (e.g. Flat) for small corpora") from exc

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if not self.is_trained:
            raise IndexError_(f"FAISS index {self.factory!r} must be trained before vectors are added")
        self.cpu.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        self._dirty = True

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        faiss = _faiss()
        removed = int(self.cpu.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))
        self._dirty = True
        return removed

    def reset(self) -> None:
        self.cpu.reset()
        self._dirty = True

    def _search_index(self):  # type: ignore[no-untyped-def]
        if not self.use_gpu:
            return self.cpu
        if self._dirty or self._gpu is None:
            faiss = _faiss()
            resources = faiss.StandardGpuResources()
            self._gpu = faiss.index_cpu_to_gpu(resources, 0, self.cpu)
            self._gpu_resources = resources
            self._dirty = False
        return self._gpu

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner-product search; ``allowed`` restricts results to those ids.

        Returns:
            ``(scores, ids)`` arrays of shape ``(n_queries, k)``; missing results have id -1.
        """
        faiss = _faiss()
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        if self.ntotal == 0:
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        index = self._search_index()
        if allowed is not None and not self.use_gpu:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = self._params(faiss, selector)
            return index.search(queries, k, params=params)
        if allowed is not None:
            wide = min(self.ntotal, max(k * 20, 200))
            scores, ids = index.search(queries, wide)
            keep = np.isin(ids, allowed)
            out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
            out_i = np.full((len(queries), k), -1, dtype=np.int64)
            for row in range(len(queries)):
                s, i = scores[row][keep[row]][:k], ids[row][keep[row]][:k]
                out_s[row, :len(s)], out_i[row, :len(i)] = s, i
            return out_s, out_i
        params = self._params(faiss, None)
        return index.search(queries, k, params=params) if params is not None else index.search(queries, k)

    def _params(self, faiss, selector):  # type: ignore[no-untyped-def]
        upper = self.factory.upper()
        if "IVF" in upper:
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe)
        if "HNSW" in upper:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def save(self, path: Path) -> None:
        """Write the CPU copy with faiss's own writer, atomically."""
        faiss = _faiss()
        atomic_write(path, lambda tmp: faiss.write_index(self.cpu, str(tmp)))
