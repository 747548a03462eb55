"""Lexical index: BM25 over chunk texts in immutable segments that share one vocabulary.

A ``BM25Index`` never changes once made. ``apply`` returns a new index that shares every existing
segment with this one, adds the new texts as a small segment and records removed ids as tombstones,
so a search that holds the old index is never disturbed by a write. Collection statistics (live
documents, average length, document frequencies) are kept exact through adds and removals, so
scores equal those of an index built from scratch over the same texts. ``compact`` folds all
segments into one; only a compacted index is written to disk (numpy arrays, no pickle).

Scoring is BM25 with Lucene's idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``, and
``tf / (tf + k1 * (1 - b + b * dl / avgdl))`` per query token, the same as bm25s's "lucene" method.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from ragmed.errors import IndexCorruptError
from ragmed.index.analysis import analyze
from ragmed.index.atomic import atomic_write_bytes

MAX_SEGMENTS = 8
"""Segments kept beside the base before the newer ones are merged into one."""


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
class _Segment:
    """Rows of texts: chunk ids (ascending), token counts, term frequencies by term and by row."""

    ids: np.ndarray
    lengths: np.ndarray
    by_term: sparse.csc_matrix
    by_row: sparse.csr_matrix

    @classmethod
    def make(cls, ids: np.ndarray, rows: sparse.csr_matrix, lengths: np.ndarray) -> _Segment:
        order = np.argsort(ids, kind="stable")
        if not np.array_equal(order, np.arange(len(ids))):
            ids, rows, lengths = ids[order], rows[order], lengths[order]
        rows = sparse.csr_matrix(rows, dtype=np.float32)
        return cls(np.asarray(ids, dtype=np.int64), np.asarray(lengths, dtype=np.float32), rows.tocsc(), rows)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row numbers of those ``ids`` that this segment holds."""
        if not len(self.ids) or not len(ids):
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        inside = pos < len(self.ids)
        pos, ids = pos[inside], ids[inside]
        return np.asarray(pos[self.ids[pos] == ids], dtype=np.int64)


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
                hit = segment.by_row[rows]
                np.subtract.at(df, hit.indices, 1.0)
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
        rows = sparse.vstack([sparse.csr_matrix(s.by_row, shape=(len(s.ids), width)) for s in rest], format="csr")
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
            hit = np.flatnonzero(scores > 0)
            if len(hit) > k:
                hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
            found_ids.append(segment.ids[hit])
            found_scores.append(scores[hit])
        if not found_ids:
            return []
        ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def _score(self, segment: _Segment, terms: np.ndarray, idf: np.ndarray, avgdl: float) -> np.ndarray | None:
        matrix = segment.by_term
        scores: np.ndarray | None = None
        norm = self.k1 * (1.0 - self.b + self.b * segment.lengths / avgdl)
        for term, weight in zip(terms, idf, strict=True):
            if term >= matrix.shape[1]:
                continue
            start, end = matrix.indptr[term], matrix.indptr[term + 1]
            if start == end:
                continue
            rows, tf = matrix.indices[start:end], matrix.data[start:end]
            if scores is None:
                scores = np.zeros(len(segment.ids), dtype=np.float32)
            scores[rows] += weight * tf / (tf + norm[rows])
        return scores

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: Path, stem: str) -> list[str]:
        """Write the compacted index as ``<stem>.npz`` in ``folder`` (atomically); return the file names."""
        index = self.compact()
        if index.segments:
            base = index.segments[0]
            used = np.unique(base.by_row.indices)
        else:
            base = _Segment.make(np.empty(0, dtype=np.int64), sparse.csr_matrix((0, 0), dtype=np.float32),
                                 np.empty(0, dtype=np.float32))
            used = np.empty(0, dtype=np.int64)
        remap = np.full(max(len(self.vocabulary), 1), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        vocabulary = "\n".join(self.vocabulary.terms[i] for i in used).encode("utf-8")
        buffer = io.BytesIO()
        np.savez(buffer, ids=base.ids, lengths=base.lengths, indptr=base.by_row.indptr.astype(np.int64),
                 indices=remap[base.by_row.indices].astype(np.int32), data=base.by_row.data.astype(np.float32),
                 vocabulary=np.frombuffer(vocabulary, dtype=np.uint8))
        name = f"{stem}.npz"
        atomic_write_bytes(folder / name, buffer.getvalue())
        return [name]

    @classmethod
    def load(cls, folder: Path, files: Sequence[str], k1: float = 1.5, b: float = 0.75) -> BM25Index:
        """Read an index written by ``save``.

        Raises:
            IndexCorruptError: a file is missing or damaged.
        """
        path = folder / files[0]
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
