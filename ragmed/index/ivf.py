"""IVF-PQ vector index for large corpora: trained on a sample, filled in batches, its shortlist re-scored exactly.

The base is a FAISS ``IndexIVFPQ`` (inner product) holding only product-quantised codes and 64-bit ids in its
inverted lists, so a million 384-d vectors take about 50 MB of codes instead of 1.5 GB. A search takes
``k * k_factor`` candidates from the ``nprobe`` nearest lists and re-scores them exactly from the stored float
vectors, which are memory-mapped from disk (the equivalent of ``IndexRefineFlat`` without holding the vectors
in RAM). Like ``FaissIndex`` it never changes once made: ``apply`` holds added vectors in exact segments and
removed ids as tombstones beside the shared base; ``compact`` folds them in, training the quantiser first
(on at most ``train_sample`` vectors) when the base is still untrained. ``build`` trains on a sample and fills
a base from batches in bounded memory, streaming the vectors to disk as they come.

When faiss sees a GPU, training, adds and search run there (``faiss.index_cpu_to_gpu``); what is kept and
written stays CPU-side. Files of a base written under ``<stem>``::

    <stem>.faiss          the trained IVF-PQ: centroids, PQ codebooks, inverted lists of codes and ids
    <stem>.ivfdata        the inverted lists, memory-mapped, with ``on_disk`` (the .faiss then holds their offsets)
    <stem>.vectors.npy    float32 vectors, one row per id, memory-mapped: the shortlist is re-scored from them
    <stem>.ids.npy        the id of each row
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.errors import IndexCorruptError, IndexError_, IndexNotTrainedError
from ragmed.index.atomic import atomic_write, fsync_dir
from ragmed.index.dense import (
    Segment,
    SegmentedIndex,
    _faiss,
    exact_search,
    gpu_count,
    member,
    merge_results,
)
from ragmed.index.npyfile import read_npy, write_npy

_WHAT = "IVF-PQ index file"


@dataclass(frozen=True)
class IVFPQOptions:
    """How an IVF-PQ index is trained, filled and searched."""

    nlist: int = 1024
    m: int = 48
    nbits: int = 8
    train_sample: int = 100_000
    nprobe: int = 16
    k_factor: int = 32
    add_batch: int = 65_536
    on_disk: bool = False
    use_gpu: bool = True
    threads: int = 1

    @property
    def factory(self) -> str:
        """The FAISS factory string of the coarse quantiser and the codes."""
        return f"IVF{self.nlist},PQ{self.m}x{self.nbits}"

    @property
    def min_train(self) -> int:
        """The fewest vectors k-means can train on (one per centroid of the larger codebook)."""
        return max(self.nlist, 1 << self.nbits)


def chooses_gpu(options: IVFPQOptions) -> bool:
    """Whether training, adds and search run on the GPU: asked for, and faiss sees at least one."""
    return options.use_gpu and not options.on_disk and gpu_count() > 0


class _Base:
    """A trained (or untrained, empty) IVF-PQ and the stored vectors it re-scores from; shared by every version."""

    def __init__(self, ivf: Any, row_ids: np.ndarray, vectors: np.ndarray, use_gpu: bool) -> None:
        self.ivf, self.row_ids, self.vectors, self.use_gpu = ivf, row_ids, vectors, use_gpu
        self.order = np.argsort(row_ids, kind="stable")
        self.ids = row_ids[self.order]
        self._gpu: Any = None
        self._resources: Any = None

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id (every id must be held)."""
        return np.asarray(self.order[np.searchsorted(self.ids, ids)])

    def searcher(self, nprobe: int) -> Any:
        if not self.use_gpu:
            return self.ivf
        if self._gpu is None:
            self._gpu, self._resources = _to_gpu(self.ivf)
            _faiss().GpuParameterSpace().set_index_parameter(self._gpu, "nprobe", nprobe)
        return self._gpu


class IVFPQIndex(SegmentedIndex):
    """IVF-PQ base plus exact segments and tombstones; searches re-score their shortlist from stored vectors.

    Example:
        >>> options = IVFPQOptions(nlist=64, m=16, nbits=8)
        >>> index = IVFPQIndex.create(384, options).train(sample)
        >>> index = index.apply(ids, vectors, []).compact()
        >>> scores, found = index.search(queries, 10)
    """

    def __init__(self, base: _Base, options: IVFPQOptions, segments: tuple[Segment, ...] = (),
                 tombstones: np.ndarray | None = None) -> None:
        self._base, self.options, self.segments = base, options, segments
        self.tombstones = tombstones if tombstones is not None else np.empty(0, dtype=np.int64)
        self._count = len(base.ids) + sum(len(s.ids) for s in segments) - len(self.tombstones)
        self._selector: Any = None
        if options.threads:
            _faiss().omp_set_num_threads(options.threads)

    @classmethod
    def create(cls, dimension: int, options: IVFPQOptions | None = None) -> IVFPQIndex:
        """An empty, untrained index.

        Raises:
            IndexError_: the dimension is not a multiple of ``m``, or faiss rejects the parameters.
        """
        options = options or IVFPQOptions()
        if dimension % options.m:
            raise IndexError_(f"IVF-PQ m must divide the dimension {dimension}, got m={options.m}")
        faiss = _faiss()
        try:
            ivf = faiss.index_factory(dimension, options.factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise IndexError_(f"invalid IVF-PQ parameters {options.factory!r}: {exc}") from exc
        return cls(_empty_base(ivf, dimension, options), options)

    @classmethod
    def build(cls, folder: Path, stem: str, dimension: int, options: IVFPQOptions, sample: np.ndarray,
              batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[IVFPQIndex, list[str]]:
        """Train on ``sample``, add ``(ids, vectors)`` batches and write the base under ``stem`` in ``folder``.

        Only the codes, the ids and one batch are held in memory: each batch's vectors are appended to
        ``<stem>.vectors.npy`` as it is added, and the index returned reads them memory-mapped.

        Returns:
            The index (read back from the files) and the names of the files written.

        Raises:
            IndexError_: the sample is too small to train on.
        """
        trained = cls.create(dimension, options).train(sample)._base.ivf
        ids: list[np.ndarray] = []
        with _RowWriter(folder / f"{stem}.vectors.npy", dimension) as writer:
            def tee() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                for batch_ids, vectors in batches:
                    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
                    writer.write(vectors)
                    ids.append(np.asarray(batch_ids, dtype=np.int64))
                    yield ids[-1], vectors

            ivf = _fill(_empty_like(trained), tee(), options)
        row_ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        files = [*_write_lists(ivf, folder, stem, options.on_disk), f"{stem}.vectors.npy", f"{stem}.ids.npy"]
        write_npy(folder / files[-1], row_ids)
        return cls.load(folder, files, options), files

    @classmethod
    def load(cls, folder: Path, files: Sequence[str], options: IVFPQOptions) -> IVFPQIndex:
        """Read a base written by ``save`` or ``build``; the vectors and on-disk lists stay memory-mapped.

        Raises:
            IndexCorruptError: a file is missing, damaged or disagrees with the others (the message names it).
        """
        faiss = _faiss()
        names = {Path(name).suffix if not name.endswith(".npy") else name.rsplit(".", 2)[-2]: name for name in files}
        if not {".faiss", "vectors", "ids"} <= names.keys():
            raise IndexCorruptError(f"IVF-PQ index files in {folder} are incomplete: {list(files)}")
        path = folder / names[".faiss"]
        for name in files:
            if not (folder / name).exists():
                raise IndexCorruptError(f"IVF-PQ index file {folder / name} is missing")
        try:
            ivf = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR if ".ivfdata" in names else 0)
        except RuntimeError as exc:
            raise IndexCorruptError(f"cannot read IVF-PQ index {path}: {exc}") from exc
        if not isinstance(ivf, faiss.IndexIVFPQ):
            raise IndexCorruptError(f"{path} holds a {type(ivf).__name__}, not an IVF-PQ index")
        if ".ivfdata" in names:
            _check_lists(ivf, folder / names[".ivfdata"])
        vectors = read_npy(folder / names["vectors"], np.float32, (int(ivf.ntotal), int(ivf.d)), _WHAT)
        row_ids = read_npy(folder / names["ids"], np.int64, (int(ivf.ntotal),), _WHAT, mmap=False)
        on_disk = ".ivfdata" in names
        return cls(_Base(ivf, row_ids, vectors, chooses_gpu(options) and not on_disk), options)

    # -- what it holds ----------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self._base.ivf.d)

    @property
    def is_trained(self) -> bool:
        return bool(self._base.ivf.is_trained)

    @property
    def can_train(self) -> bool:
        """Untrained, but holding enough vectors to train on: a merge now makes it searchable."""
        return not self.is_trained and len(self) >= self.options.min_train

    @property
    def use_gpu(self) -> bool:
        """Whether this index's training, adds and search run on a GPU."""
        return self._base.use_gpu

    def _base_ids(self) -> np.ndarray:
        return self._base.ids

    # -- changes ----------------------------------------------------------------------
    def train(self, sample: np.ndarray) -> IVFPQIndex:
        """A new index whose quantiser is trained on ``sample`` (at most ``train_sample`` rows of it).

        Raises:
            IndexError_: the base already holds vectors, or the sample is smaller than ``min_train``.
        """
        if len(self._base.ids):
            raise IndexError_(f"IVF-PQ index already trained and holding {len(self._base.ids)} vectors")
        sample = np.ascontiguousarray(sample, dtype=np.float32).reshape(-1, self.dimension)
        if len(sample) < self.options.min_train:
            raise IndexError_(
                f"cannot train IVF-PQ {self.options.factory!r} on {len(sample)} vectors: it needs at least "
                f"{self.options.min_train}; lower nlist or nbits, or use the 'faiss' backend for small corpora")
        if len(sample) > self.options.train_sample:
            rows = np.random.default_rng(0).choice(len(sample), self.options.train_sample, replace=False)
            sample = sample[np.sort(rows)]
        ivf = _train(_empty_like(self._base.ivf, trained=False), sample, self.options)
        return IVFPQIndex(_empty_base(ivf, self.dimension, self.options), self.options, self.segments,
                          self.tombstones)

    def apply(self, add_ids: Sequence[int] | np.ndarray, add_vectors: np.ndarray,
              remove_ids: Sequence[int] | np.ndarray) -> IVFPQIndex:
        """A new index with ``remove_ids`` gone and ``add_vectors`` added under ``add_ids``; this one is unchanged.

        Raises:
            IndexError_: the vectors do not have the index's dimension.
        """
        segments, tombstones = self._changed(add_ids, add_vectors, remove_ids)
        return IVFPQIndex(self._base, self.options, segments, tombstones)

    def compact(self) -> IVFPQIndex:
        """The same vectors in one base, training it first (on the held vectors) when it is untrained.

        Raises:
            IndexError_: the base is untrained and holds fewer than ``min_train`` vectors.
        """
        if not self.segments and not len(self.tombstones):
            return self
        ids = np.concatenate([s.ids for s in self.segments]) if self.segments else np.empty(0, dtype=np.int64)
        vectors = np.concatenate([s.vectors for s in self.segments]) if self.segments else \
            np.empty((0, self.dimension), dtype=np.float32)
        live = ~np.isin(ids, self.tombstones)
        ids, vectors = ids[live], vectors[live]
        source = self if self.is_trained or not len(ids) else self.train(vectors)
        base = source._base
        gone = self.tombstones[member(base.ids, self.tombstones)]
        kept = ~np.isin(base.row_ids, gone)
        ivf = _fill(_empty_like(base.ivf, trained=base.ivf.is_trained, lists_from=base.ivf, skip=gone),
                    _batches(ids, vectors, self.options.add_batch), self.options)
        row_ids = np.concatenate([base.row_ids[kept], ids])
        stored = np.concatenate([np.asarray(base.vectors[kept]), vectors])
        return IVFPQIndex(_Base(ivf, row_ids, stored, chooses_gpu(self.options)), self.options)

    # -- search -----------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner-product search; ``allowed`` restricts results to those ids.

        Returns:
            ``(scores, ids)`` arrays of shape ``(n_queries, k)``, best first; missing results have id -1.

        Raises:
            IndexNotTrainedError: the index holds vectors but its quantiser has not been trained yet.
        """
        if not self.is_trained and len(self):
            raise IndexNotTrainedError(
                f"IVF-PQ index {self.options.factory!r} holds {len(self)} vectors but is not trained: train it on a "
                f"sample (at least {self.options.min_train} vectors) or compact it (merge the index) before searching")
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, int(k))
        parts = [self._search_base(q, k, allowed)] if len(self._base.ids) else []
        parts += [exact_search(s.ids, s.vectors, q, k, self.tombstones, allowed) for s in self.segments]
        return merge_results(parts, len(q), k)

    def _search_base(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        faiss, base = _faiss(), self._base
        shortlist = min(len(base.ids), k * self.options.k_factor)
        index = base.searcher(self.options.nprobe)
        if base.use_gpu:  # GPU IVF takes no id selectors: search wider, then filter
            wide = min(len(base.ids), shortlist + len(self.tombstones) + (max(k * 20, 200) if allowed is not None else 0))
            _, ids = index.search(q, wide)
            drop = np.isin(ids, self.tombstones) | (~np.isin(ids, allowed) if allowed is not None else False)
            ids = np.where(drop, -1, ids)
        else:
            params = faiss.SearchParametersIVF(sel=self._selector_for(allowed), nprobe=self.options.nprobe)
            _, ids = index.search(q, shortlist, params=params)
        return self._refine(q, ids)

    def _refine(self, q: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact inner products of the candidates, read from the stored vectors."""
        valid = candidates >= 0
        rows = self._base.rows(np.where(valid, candidates, self._base.ids[0]))
        flat = rows.ravel()
        order = np.argsort(flat, kind="stable")  # read the memory-mapped rows in file order
        gathered = np.empty((len(flat), self.dimension), dtype=np.float32)
        gathered[order] = self._base.vectors[flat[order]]
        scores = np.einsum("qkd,qd->qk", gathered.reshape(*rows.shape, -1), q)
        return np.where(valid, scores, -np.inf).astype(np.float32), np.where(valid, candidates, -1)

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted base under ``stem`` in ``folder``; return the file names.

        Raises:
            IndexError_: the base is untrained and holds fewer than ``min_train`` vectors.
        """
        base = self.compact()._base
        files = [*_write_lists(base.ivf, folder, stem, self.options.on_disk and base.ivf.is_trained),
                 f"{stem}.vectors.npy", f"{stem}.ids.npy"]
        write_npy(folder / files[-2], base.vectors)
        write_npy(folder / files[-1], base.row_ids)
        return files


# -- faiss helpers ----------------------------------------------------------------------
def _empty_base(ivf: Any, dimension: int, options: IVFPQOptions) -> _Base:
    return _Base(ivf, np.empty(0, dtype=np.int64), np.empty((0, dimension), dtype=np.float32), chooses_gpu(options))


def _empty_like(ivf: Any, trained: bool = True, lists_from: Any = None, skip: np.ndarray | None = None) -> Any:
    """A new IVF-PQ with ``ivf``'s parameters (and its centroids and codebooks when ``trained``).

    Args:
        lists_from: an index whose inverted lists are copied in (ids in ``skip`` left out).
    """
    faiss = _faiss()
    fresh = faiss.index_factory(ivf.d, f"IVF{ivf.nlist},PQ{ivf.pq.M}x{ivf.pq.nbits}", faiss.METRIC_INNER_PRODUCT)
    fresh.do_polysemous_training = False  # only for Hamming pre-filtering, which is not used; it costs minutes
    if not trained:
        return fresh
    fresh.quantizer.add(ivf.quantizer.reconstruct_n(0, ivf.nlist))
    faiss.copy_array_to_vector(faiss.vector_to_array(ivf.pq.centroids), fresh.pq.centroids)
    fresh.is_trained = True
    if lists_from is None:
        return fresh
    source, size = lists_from.invlists, int(ivf.code_size)
    for number in range(ivf.nlist):
        count = source.list_size(number)
        if not count:
            continue
        ids = faiss.rev_swig_ptr(source.get_ids(number), count).copy()
        codes = faiss.rev_swig_ptr(source.get_codes(number), count * size).copy().reshape(count, size)
        keep = ~np.isin(ids, skip) if skip is not None and len(skip) else np.ones(count, dtype=bool)
        if keep.any():
            kept_ids, kept_codes = np.ascontiguousarray(ids[keep]), np.ascontiguousarray(codes[keep])
            fresh.invlists.add_entries(number, int(keep.sum()), faiss.swig_ptr(kept_ids), faiss.swig_ptr(kept_codes))
            fresh.ntotal += int(keep.sum())
    return fresh


def _to_gpu(ivf: Any) -> tuple[Any, Any]:
    faiss = _faiss()
    resources = faiss.StandardGpuResources()
    cloner = faiss.GpuClonerOptions()
    cloner.useFloat16LookupTables = True  # PQ lookup tables of m >= 48 do not fit shared memory in float32
    return faiss.index_cpu_to_gpu(resources, 0, ivf, cloner), resources


def _train(ivf: Any, sample: np.ndarray, options: IVFPQOptions) -> Any:
    """``ivf`` trained on ``sample``, on the GPU when there is one (the result is always a CPU index)."""
    faiss = _faiss()
    try:
        if chooses_gpu(options):
            gpu, _resources = _to_gpu(ivf)
            gpu.train(sample)
            return faiss.index_gpu_to_cpu(gpu)
        ivf.train(sample)
    except RuntimeError as exc:
        raise IndexError_(f"cannot train IVF-PQ {options.factory!r} on {len(sample)} vectors: {exc}") from exc
    return ivf


def _fill(ivf: Any, batches: Iterable[tuple[np.ndarray, np.ndarray]], options: IVFPQOptions) -> Any:
    """Add every batch's codes to ``ivf`` (encoded on the GPU when there is one); return the CPU index."""
    if not chooses_gpu(options):
        for ids, vectors in batches:
            ivf.add_with_ids(vectors, ids)
        return ivf
    gpu, _resources = _to_gpu(ivf)
    for ids, vectors in batches:
        gpu.add_with_ids(vectors, ids)
    return _faiss().index_gpu_to_cpu(gpu)


def _batches(ids: np.ndarray, vectors: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size], np.ascontiguousarray(vectors[start:start + size])


def _write_lists(ivf: Any, folder: Path, stem: str, on_disk: bool) -> list[str]:
    """Write the index as ``<stem>.faiss`` (with its lists in ``<stem>.ivfdata`` when ``on_disk``)."""
    faiss = _faiss()
    name = f"{stem}.faiss"
    if not on_disk:
        atomic_write(folder / name, lambda tmp: faiss.write_index(ivf, str(tmp)))
        return [name]
    data = folder / f"{stem}.ivfdata"
    data.unlink(missing_ok=True)
    lists = faiss.OnDiskInvertedLists(ivf.nlist, ivf.code_size, str(data))
    sources = faiss.InvertedListsPtrVector()
    sources.push_back(ivf.invlists)
    total = lists.merge_from_multiple(sources.data(), sources.size(), False, False)
    disk = _empty_like(ivf)
    disk.ntotal = total
    disk.replace_invlists(lists, True)
    lists.this.disown()
    atomic_write(folder / name, lambda tmp: faiss.write_index(disk, str(tmp)))
    with open(data, "rb+") as handle:
        os.fsync(handle.fileno())
    return [name, data.name]


def _check_lists(ivf: Any, data: Path) -> None:
    lists = _faiss().downcast_InvertedLists(ivf.invlists)
    if os.path.getsize(data) < int(lists.totsize):
        raise IndexCorruptError(f"IVF-PQ inverted lists {data} are truncated ({os.path.getsize(data)} bytes, "
                                f"{int(lists.totsize)} expected)")


# -- stored vectors ---------------------------------------------------------------------
class _RowWriter:
    """Appends float32 rows to a ``.npy`` file without holding them, then writes its header (atomically renamed)."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path, self.dimension, self.rows = path, dimension, 0
        self._tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self._handle: Any = None

    def __enter__(self) -> _RowWriter:
        self._handle = open(self._tmp, "wb")
        self._handle.write(_npy_header(0, self.dimension))
        return self

    def write(self, vectors: np.ndarray) -> None:
        self._handle.write(vectors.tobytes())
        self.rows += len(vectors)

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._handle.seek(0)
            self._handle.write(_npy_header(self.rows, self.dimension))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        self._handle.close()
        if kind is None:
            os.replace(self._tmp, self.path)
            fsync_dir(self.path.parent)
        else:
            self._tmp.unlink(missing_ok=True)


def _npy_header(rows: int, dimension: int) -> bytes:
    """A 128-byte ``.npy`` (version 1.0) header of a C-ordered float32 array, the same length for any shape."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dimension}), }}".ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
