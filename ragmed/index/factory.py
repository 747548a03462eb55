"""Choose the vector and lexical index backends from settings, or from what an index's manifest names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ragmed.config import IndexSettings
from ragmed.errors import ConfigError
from ragmed.index.dense import DenseOptions, FaissIndex
from ragmed.index.ivf import IVFPQIndex, IVFPQOptions
from ragmed.index.lexical import BM25Index
from ragmed.index.protocols import LexicalIndex, VectorIndex

VECTOR_BACKENDS = ("faiss", "ivfpq")
LEXICAL_BACKENDS = ("bm25",)


def _dense_options(settings: IndexSettings, factory: str | None) -> DenseOptions:
    return DenseOptions(factory=factory or settings.factory, use_gpu=settings.use_gpu, nprobe=settings.nprobe,
                        ef_search=settings.hnsw_ef_search, threads=settings.faiss_threads)


def ivfpq_options(settings: IndexSettings) -> IVFPQOptions:
    """The IVF-PQ backend's options from settings."""
    ivf = settings.ivfpq
    return IVFPQOptions(nlist=ivf.nlist, m=ivf.m, nbits=ivf.nbits, train_sample=ivf.train_sample,
                        nprobe=settings.nprobe, k_factor=ivf.k_factor, add_batch=ivf.add_batch, on_disk=ivf.on_disk,
                        use_gpu=settings.use_gpu, threads=settings.faiss_threads)


def make_vector_index(settings: IndexSettings, dimension: int, *, backend: str | None = None,
                      factory: str | None = None) -> VectorIndex:
    """An empty vector index of ``backend`` (settings.vector_backend when None).

    Raises:
        ConfigError: an unknown backend name.
    """
    name = backend or settings.vector_backend
    if name == "faiss":
        return FaissIndex.create(dimension, _dense_options(settings, factory))
    if name == "ivfpq":
        return IVFPQIndex.create(dimension, ivfpq_options(settings))
    raise ConfigError(f"unknown vector index backend {name!r}; known: {', '.join(VECTOR_BACKENDS)}")


def load_vector_index(settings: IndexSettings, folder: Path, files: Sequence[str], *, backend: str,
                      factory: str | None = None) -> VectorIndex:
    """Read a vector index of ``backend`` from ``files`` in ``folder``.

    Raises:
        ConfigError: an unknown backend name.
        IndexCorruptError: a file cannot be read.
    """
    if backend == "faiss":
        return FaissIndex.load(folder, files, _dense_options(settings, factory))
    if backend == "ivfpq":
        return IVFPQIndex.load(folder, files, ivfpq_options(settings))
    raise ConfigError(f"unknown vector index backend {backend!r} in {folder}; known: {', '.join(VECTOR_BACKENDS)}")


def make_lexical_index(settings: IndexSettings, *, backend: str | None = None) -> LexicalIndex:
    """An empty lexical index of ``backend`` (settings.lexical_backend when None).

    Raises:
        ConfigError: an unknown backend name.
    """
    name = backend or settings.lexical_backend
    if name == "bm25":
        return BM25Index.empty(k1=settings.bm25_k1, b=settings.bm25_b)
    raise ConfigError(f"unknown lexical index backend {name!r}; known: {', '.join(LEXICAL_BACKENDS)}")


def load_lexical_index(settings: IndexSettings, folder: Path, files: Sequence[str], *, backend: str) -> LexicalIndex:
    """Read a lexical index of ``backend`` from ``files`` in ``folder``.

    Raises:
        ConfigError: an unknown backend name.
        IndexCorruptError: a file cannot be read.
    """
    if backend == "bm25":
        return BM25Index.load(folder, files, k1=settings.bm25_k1, b=settings.bm25_b, mmap=settings.bm25_mmap)
    raise ConfigError(f"unknown lexical index backend {backend!r} in {folder}; known: {', '.join(LEXICAL_BACKENDS)}")
