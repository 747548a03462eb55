"""Lexical index: BM25 over chunk texts in immutable segments that share one vocabulary.

A ``BM25Index`` never changes once made. ``apply`` returns a new index that shares every existing
segment with this one, adds the new texts as a small segment and records removed ids as tombstones,
so a search that holds the old index is never disturbed by a write. Collection statistics (live
documents, average length, document frequencies) are kept exact through adds and removals, so
scores equal those of an index built from scratch over the same texts. ``compact`` folds all
segments into one; only a compacted index is written to disk (numpy arrays, no pickle).

A compacted base is written as uncompressed ``.npy`` files and opened memory-mapped (``mmap=True``), so opening
reads only the vocabulary and the term offsets, and a query reads the postings of its terms and the lengths of
the rows they hit. Files of a base written under ``<stem>``::

    <stem>.json                  rows, terms, postings, total length and the vocabulary (read into memory)
    <stem>.ids.npy               chunk id of each row (int64, ascending)
    <stem>.lengths.npy           token count of each row (float32)
    <stem>.postings-indptr.npy   where each term's postings start (int64, terms + 1)
    <stem>.postings-rows.npy     the row of each posting (int32), rows ascending within a term
    <stem>.postings-tf.npy       the term frequency of each posting (float32)
    <stem>.forward-indptr.npy    where each row's terms start (int64, rows + 1)
    <stem>.forward-terms.npy     the term of each (row, term) pair (int32): a removal's document frequencies
    <stem>.forward-tf.npy        its term frequency (float32)

An older base, one ``<stem>.npz`` holding the row-major arrays, is still read (whole, into memory).

Scoring is BM25 with Lucene's idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``, and
``tf / (tf + k1 * (1 - b + b * dl / avgdl))`` per query token, the same as bm25s's "lucene" method.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ragmed.errors import IndexCorruptError, IndexError_
from ragmed.index.analysis import analyze
from ragmed.index.atomic import atomic_write_bytes
from ragmed.index.npyfile import read_npy, write_npy

MAX_SEGMENTS = 8
"""Segments kept beside the base before the newer ones are merged into one."""
_WHAT = "BM25 index file"
_ARRAYS = {"ids": np.int64, "lengths": np.float32, "postings-indptr": np.int64, "postings-rows": np.int32,
           "postings-tf": np.float32, "forward-indptr": np.int64, "forward-terms": np.int32, "forward-tf": np.float32}
"""The arrays of a stored base, by file name part, with their dtypes."""


@dataclass(frozen=True)
class CorpusStats:
    """The collection statistics BM25 scores a query with: live texts, their total length, and each query
    term's document frequency. Summed over shards, they let every shard score as one index over all of them.
    """

    n: int
    total_length: float
    df: dict[str, float]

    def __add__(self, other: CorpusStats) -> CorpusStats:
        terms = self.df.keys() | other.df.keys()
        return CorpusStats(self.n + other.n, self.total_length + other.total_length,
                           {t: self.df.get(t, 0.0) + other.df.get(t, 0.0) for t in terms})


class Vocabulary:
    """Term to column id, shared by every version of one index (terms are only ever appended)."""

    def __init__(self, terms: Sequence[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.terms)

    def add(self, tokens: Sequence[str]) -> np.ndarray:
        """Column ids of ``tokens``, giving new terms new ids."""
        out = np.empty(len(tokens), dtype=np.int64)
        for n, token in enumerate(tokens):
            column = self.ids.get(token)
            if column is None:
                column = self.ids[token] = len(self.terms)
                self.terms.append(token)
            out[n] = column
        return out


@dataclass(frozen=True)
class _Lines:
    """A compressed sparse matrix as its three arrays: line ``n`` (a row of a CSR, a column of a CSC) holds
    ``indices[indptr[n]:indptr[n + 1]]`` with ``data`` at the same positions. The arrays are used as they are
    (memory-mapped ones stay mapped, of any integer dtypes), unlike scipy's, which cast both index arrays to one.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @classmethod
    def of(cls, matrix: sparse.csr_matrix | sparse.csc_matrix) -> _Lines:
        return cls(matrix.indptr, matrix.indices, matrix.data)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def line(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and data of line ``n``."""
        start, end = self.indptr[n], self.indptr[n + 1]
        return self.indices[start:end], self.data[start:end]

    def indices_of(self, lines: np.ndarray) -> np.ndarray:
        """The indices of ``lines``, one after the other."""
        starts, ends = np.asarray(self.indptr[lines], dtype=np.int64), np.asarray(self.indptr[lines + 1], dtype=np.int64)
        counts = ends - starts
        positions = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return np.asarray(self.indices[positions])

    def csr(self, shape: tuple[int, int]) -> sparse.csr_matrix:
        """The lines as the rows of a scipy CSR matrix (read into memory)."""
        return sparse.csr_matrix((np.asarray(self.data), np.asarray(self.indices), np.asarray(self.indptr)), shape=shape)


@dataclass(frozen=True)
class _Segment:
    """Rows of texts: chunk ids (ascending), token counts, term frequencies by term (the postings) and by row."""

    ids: np.ndarray
    lengths: np.ndarray
    by_term: _Lines
    by_row: _Lines

    @classmethod
    def make(cls, ids: np.ndarray, rows: sparse.csr_matrix, lengths: np.ndarray) -> _Segment:
        order = np.argsort(ids, kind="stable")
        if not np.array_equal(order, np.arange(len(ids))):
            ids, rows, lengths = ids[order], rows[order], lengths[order]
        rows = sparse.csr_matrix(rows, dtype=np.float32)
        return cls(np.asarray(ids, dtype=np.int64), np.asarray(lengths, dtype=np.float32), _Lines.of(rows.tocsc()),
                   _Lines.of(rows))

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row numbers of those ``ids`` that this segment holds."""
        if not len(self.ids) or not len(ids):
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        inside = pos < len(self.ids)
        pos, ids = pos[inside], ids[inside]
        return np.asarray(pos[self.ids[pos] == ids], dtype=np.int64)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` best positive scores, ties going to the lower row (the lower id), so that how the rows
    are split into segments never changes which tied row makes the top ``k``."""
    hit = np.flatnonzero(scores > 0)
    if len(hit) <= k:
        return hit
    top = scores[hit]
    kth = np.partition(top, len(top) - k)[len(top) - k]
    above = hit[top > kth]
    return np.concatenate([above, hit[top == kth][:k - len(above)]])


def _count_rows(term_rows: list[np.ndarray], width: int) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A row-major term-frequency matrix and the token count of each row."""
    indptr = np.zeros(len(term_rows) + 1, dtype=np.int64)
    columns: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    lengths = np.empty(len(term_rows), dtype=np.float32)
    for n, row in enumerate(term_rows):
        unique, count = np.unique(row, return_counts=True)
        columns.append(unique)
        counts.append(count)
        indptr[n + 1] = indptr[n] + len(unique)
        lengths[n] = len(row)
    data = np.concatenate(counts).astype(np.float32) if counts else np.empty(0, dtype=np.float32)
    indices = np.concatenate(columns) if columns else np.empty(0, dtype=np.int64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(term_rows), width)), lengths


class BM25Index:
    """BM25 over chunk texts, keyed by the chunk ids FAISS uses.

    Example:
        >>> index = BM25Index.empty().apply([1, 2], ["insulin lowers blood sugar", "asthma inhalers"], [])
        >>> index.search("insulin", 1)[0][0]
        1
    """

    def __init__(self, vocabulary: Vocabulary, segments: tuple[_Segment, ...], tombstones: np.ndarray,
                 df: np.ndarray, total_length: float, k1: float = 1.5, b: float = 0.75) -> None:
        self.vocabulary, self.segments, self.tombstones = vocabulary, segments, tombstones
        self.df, self.total_length, self.k1, self.b = df, total_length, k1, b
        self._live = [~np.isin(s.ids, tombstones) if len(tombstones) else None for s in segments]
        self._count = sum(len(s.ids) for s in segments) - len(tombstones)

    @classmethod
    def empty(cls, k1: float = 1.5, b: float = 0.75) -> BM25Index:
        """An index with nothing in it."""
        return cls(Vocabulary(), (), np.empty(0, dtype=np.int64), np.zeros(0), 0.0, k1, b)

    def __len__(self) -> int:
        return self._count

    @property
    def pending(self) -> int:
        """Rows and tombstones held outside the base segment (what ``compact`` would fold in)."""
        return sum(len(s.ids) for s in self.segments[1:]) + len(self.tombstones)

    def ids(self) -> np.ndarray:
        """Ids of the live texts, ascending."""
        if not self.segments:
            return np.empty(0, dtype=np.int64)
        if len(self.segments) == 1 and not len(self.tombstones):
            return self.segments[0].ids
        every = np.concatenate([s.ids for s in self.segments])
        return np.setdiff1d(every, self.tombstones) if len(self.tombstones) else np.sort(every)

    # -- changes ----------------------------------------------------------------------
    def apply(self, add_ids: Sequence[int] | np.ndarray, add_texts: Sequence[str],
              remove_ids: Sequence[int] | np.ndarray) -> BM25Index:
        """A new index with ``remove_ids`` gone and ``add_texts`` added under ``add_ids``; this one is unchanged.

        Ids that are not in the index are ignored on removal; an added id must not be live already.
        """
        add = np.asarray(add_ids, dtype=np.int64)
        if len(add) != len(add_texts):
            raise ValueError(f"{len(add)} ids for {len(add_texts)} texts")
        df = self.df.copy()
        total = self.total_length
        removed = self._removable(np.asarray(remove_ids, dtype=np.int64))
        for segment in self.segments:
            rows = segment.rows_of(removed)
            if len(rows):
                np.subtract.at(df, segment.by_row.indices_of(rows), 1.0)
                total -= float(segment.lengths[rows].sum())
        tombstones = np.union1d(self.tombstones, removed) if len(removed) else self.tombstones
        segments = self.segments
        if len(add):
            term_rows = [self.vocabulary.add(tokens) for tokens in (analyze(t) for t in add_texts)]
            rows, lengths = _count_rows(term_rows, len(self.vocabulary))
            width = len(self.vocabulary)
            if len(df) < width:
                df = np.concatenate([df, np.zeros(width - len(df))])
            np.add.at(df, rows.indices, 1.0)
            total += float(lengths.sum())
            segments = (*segments, _Segment.make(add, rows, lengths))
        index = BM25Index(self.vocabulary, segments, tombstones, df, total, self.k1, self.b)
        if len(index.segments) > MAX_SEGMENTS + 1:
            index = index._merged(1)
        return index

    def _removable(self, ids: np.ndarray) -> np.ndarray:
        """Those ``ids`` that are live here."""
        if not len(ids) or not self.segments:
            return np.empty(0, dtype=np.int64)
        ids = np.unique(ids)
        held = np.concatenate([s.ids[s.rows_of(ids)] for s in self.segments])
        return np.setdiff1d(held, self.tombstones)

    def compact(self) -> BM25Index:
        """The same texts in one segment, without tombstones."""
        if len(self.segments) <= 1 and not len(self.tombstones):
            return self
        return self._merged(0)

    def _merged(self, first: int) -> BM25Index:
        """Segments from ``first`` on merged into one, their tombstoned rows dropped."""
        keep, rest = self.segments[:first], self.segments[first:]
        width = len(self.vocabulary)
        rows = sparse.vstack([s.by_row.csr((len(s.ids), width)) for s in rest], format="csr")
        ids = np.concatenate([s.ids for s in rest])
        lengths = np.concatenate([s.lengths for s in rest])
        live = ~np.isin(ids, self.tombstones)
        merged = _Segment.make(ids[live], rows[live], lengths[live])
        tombstones = self.tombstones[np.isin(self.tombstones, np.concatenate([s.ids for s in keep]))] if keep \
            else np.empty(0, dtype=np.int64)
        return BM25Index(self.vocabulary, (*keep, merged), tombstones, self.df, self.total_length, self.k1, self.b)

    # -- search -----------------------------------------------------------------------
    def statistics(self, query: str) -> CorpusStats:
        """This index's collection statistics for the terms of ``query``."""
        known = self._known(analyze(query))
        return CorpusStats(self._count, self.total_length,
                           {t: float(self.df[self.vocabulary.ids[t]]) for t in known})

    def _known(self, tokens: Sequence[str]) -> list[str]:
        return [t for t in tokens if self.vocabulary.ids.get(t, len(self.df)) < len(self.df)]

    def search(self, query: str, k: int, allowed: np.ndarray | None = None,
               corpus: CorpusStats | None = None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` pairs with a positive BM25 score, best first.

        Args:
            query: the query text (analysed like the indexed texts).
            k: results wanted.
            allowed: when given, only these chunk ids may be returned.
            corpus: statistics to score with instead of this index's own (those of all shards together).
        """
        known = self._known(analyze(query))
        terms = np.fromiter((self.vocabulary.ids[t] for t in known), dtype=np.int64, count=len(known))
        if not len(terms) or self._count <= 0 or k <= 0:
            return []
        count, total = (self._count, self.total_length) if corpus is None else (corpus.n, corpus.total_length)
        n, avgdl = float(count), max(total / count, 1e-9)
        df = self.df[terms] if corpus is None else np.array([corpus.df[t] for t in known])
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        found_ids: list[np.ndarray] = []
        found_scores: list[np.ndarray] = []
        for segment, live in zip(self.segments, self._live, strict=True):
            scores = self._score(segment, terms, idf, avgdl)
            if scores is None:
                continue
            if live is not None:
                scores[~live] = 0.0
            if allowed is not None:
                scores[~np.isin(segment.ids, allowed)] = 0.0
            hit = _top(scores, k)
            found_ids.append(segment.ids[hit])
            found_scores.append(scores[hit])
        if not found_ids:
            return []
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def _score(self, segment: _Segment, terms: np.ndarray, idf: np.ndarray, avgdl: float) -> np.ndarray | None:
        postings = segment.by_term
        scores: np.ndarray | None = None
        for term, weight in zip(terms, idf, strict=True):
            if term >= len(postings):
                continue
            rows, tf = postings.line(term)
            if not len(rows):
                continue
            if scores is None:
                scores = np.zeros(len(segment.ids), dtype=np.float32)
            norm = self.k1 * (1.0 - self.b + self.b * segment.lengths[rows] / avgdl)
            scores[rows] += weight * tf / (tf + norm)
        return scores

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted index as ``<stem>.json`` and ``<stem>.*.npy`` files in ``folder``, each atomically.

        Terms no live text holds are left out of the stored vocabulary.

        Returns:
            The names of the files written, the ``.json`` first.

        Raises:
            IndexError_: more rows or terms than 32-bit positions can number.
        """
        index = self.compact()
        base = index.segments[0] if index.segments else _Segment.make(
            np.empty(0, dtype=np.int64), sparse.csr_matrix((0, 0), dtype=np.float32), np.empty(0, dtype=np.float32))
        if max(len(base.ids), len(self.vocabulary)) >= 2**31:
            raise IndexError_(f"a BM25 base holds at most 2^31 - 1 rows and terms, got {len(base.ids)} rows and "
                              f"{len(self.vocabulary)} terms; split the corpus into shards")
        counts = np.diff(base.by_term.indptr)
        used = np.flatnonzero(counts)
        remap = np.full(max(len(self.vocabulary), 1), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        arrays = {"ids": base.ids, "lengths": base.lengths,
                  "postings-indptr": np.concatenate([[0], np.cumsum(counts[used], dtype=np.int64)]),
                  "postings-rows": base.by_term.indices, "postings-tf": base.by_term.data,
                  "forward-indptr": base.by_row.indptr, "forward-terms": remap[base.by_row.indices],
                  "forward-tf": base.by_row.data}
        files = [f"{stem}.json"]
        for part, dtype in _ARRAYS.items():
            files.append(f"{stem}.{part}.npy")
            write_npy(folder / files[-1], np.asarray(arrays[part], dtype=dtype))
        meta = {"rows": len(base.ids), "terms": len(used), "postings": len(base.by_term.indices),
                "total_length": index.total_length, "vocabulary": [self.vocabulary.terms[i] for i in used]}
        atomic_write_bytes(folder / files[0], json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        return files

    @classmethod
    def load(cls, folder: Path, files: Sequence[str], k1: float = 1.5, b: float = 0.75, mmap: bool = True) -> BM25Index:
        """Read an index written by ``save``, or an older one written as a single ``.npz`` file.

        Args:
            folder: the index folder.
            files: the names ``save`` returned.
            k1: BM25 term-frequency saturation.
            b: BM25 document-length normalisation.
            mmap: map the ``.npy`` arrays read-only instead of reading them into memory (an older ``.npz`` base
                is always read whole).

        Raises:
            IndexCorruptError: a file is missing, truncated, unreadable or disagrees with the others (the message
                names it). The data inside the arrays is not read here: the manifest's checksums cover it.
        """
        if files[0].endswith(".npz"):
            return cls._load_npz(folder / files[0], k1, b)
        path = folder / files[0]
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            rows, terms, postings = int(meta["rows"]), int(meta["terms"]), int(meta["postings"])
            total_length, vocabulary = float(meta["total_length"]), Vocabulary(meta["vocabulary"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"cannot read {_WHAT} {path}: {exc}") from exc
        if len(vocabulary) != terms:
            raise IndexCorruptError(f"{_WHAT} {path} lists {len(vocabulary)} terms, its header says {terms}")
        stem = files[0].removesuffix(".json")
        shapes = {"ids": rows, "lengths": rows, "postings-indptr": terms + 1, "postings-rows": postings,
                  "postings-tf": postings, "forward-indptr": rows + 1, "forward-terms": postings, "forward-tf": postings}
        arrays = {part: read_npy(folder / f"{stem}.{part}.npy", dtype, (shapes[part],), _WHAT, mmap)
                  for part, dtype in _ARRAYS.items()}
        for part in ("postings-indptr", "forward-indptr"):
            if int(arrays[part][0]) != 0 or int(arrays[part][-1]) != postings:
                raise IndexCorruptError(f"{_WHAT} {folder / f'{stem}.{part}.npy'} does not span the {postings} postings")
        segment = _Segment(arrays["ids"], arrays["lengths"],
                           _Lines(arrays["postings-indptr"], arrays["postings-rows"], arrays["postings-tf"]),
                           _Lines(arrays["forward-indptr"], arrays["forward-terms"], arrays["forward-tf"]))
        df = np.diff(arrays["postings-indptr"]).astype(np.float64)
        return cls(vocabulary, (segment,) if rows else (), np.empty(0, dtype=np.int64), df, total_length, k1, b)

    @classmethod
    def _load_npz(cls, path: Path, k1: float, b: float) -> BM25Index:
        """Read a base of the older layout: one ``.npz`` of the row-major arrays, read whole."""
        try:
            with np.load(path, allow_pickle=False) as data:
                ids, lengths = data["ids"], data["lengths"]
                indptr, indices, values = data["indptr"], data["indices"].astype(np.int64), data["data"]
                raw = data["vocabulary"].tobytes().decode("utf-8")
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"cannot read BM25 index {path}: {exc}") from exc
        vocabulary = Vocabulary(raw.split("\n") if raw else [])
        if len(indptr) != len(ids) + 1 or (len(indices) and int(indices.max()) >= len(vocabulary)):
            raise IndexCorruptError(f"BM25 index {path} is inconsistent: {len(ids)} rows, {len(indptr)} row pointers, "
                                    f"{len(vocabulary)} terms")
        rows = sparse.csr_matrix((values, indices, indptr), shape=(len(ids), len(vocabulary)))
        df = np.bincount(indices, minlength=len(vocabulary)).astype(np.float64)
        segments = (_Segment.make(ids, rows, lengths),) if len(ids) else ()
        return cls(vocabulary, segments, np.empty(0, dtype=np.int64), df, float(lengths.sum()), k1, b)
