"""SQLite docstore: documents, chunks with their vectors, and the index revision.

The docstore is the durable record of what is indexed. Every change is one SQLite
transaction that also bumps ``revision``; the FAISS and BM25 files are derived from it
and can always be rebuilt from the stored vectors and texts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragmed.types import Chunk, Document, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, url TEXT,
    licence TEXT, date TEXT, year INTEGER, doc_type TEXT, language TEXT, sections TEXT NOT NULL,
    metadata TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, section TEXT,
    text TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE INDEX IF NOT EXISTS documents_year ON documents(year);
"""


@dataclass
class Filters:
    """Metadata filters applied before ranking. Every set field must match."""

    sources: list[str] | None = None
    year_min: int | None = None
    year_max: int | None = None
    doc_types: list[str] | None = None
    languages: list[str] | None = None
    doc_ids: list[str] | None = field(default=None, repr=False)

    def is_empty(self) -> bool:
        return all(v is None for v in (self.sources, self.year_min, self.year_max, self.doc_types,
                                       self.languages, self.doc_ids))

    def where(self) -> tuple[str, list[object]]:
        """SQL condition over ``documents`` (aliased ``d``) and its parameters."""
        parts: list[str] = []
        params: list[object] = []
        if self.sources:
            parts.append("(" + " OR ".join(["d.source = ? OR d.source LIKE ?"] * len(self.sources)) + ")")
            for source in self.sources:
                params += [source, f"{source}/%"]
        if self.year_min is not None:
            parts.append("d.year >= ?")
            params.append(self.year_min)
        if self.year_max is not None:
            parts.append("d.year <= ?")
            params.append(self.year_max)
        for column, values in (("doc_type", self.doc_types), ("language", self.languages), ("id", self.doc_ids)):
            if values:
                parts.append(f"d.{column} IN ({','.join('?' * len(values))})")
                params += list(values)
        return (" AND ".join(parts) or "1"), params


class DocStore:
    """Documents and chunks in one SQLite file (WAL journal, foreign keys on)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    # -- meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def revision(self) -> int:
        return int(self.get_meta("revision") or 0)

    # -- writes (call inside ``transaction``) ---------------------------------
    def transaction(self) -> _Transaction:
        """A write transaction that bumps the revision when it commits."""
        return _Transaction(self)

    def put_document(self, doc: Document) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, doc.source, doc.title, doc.text, doc.url, doc.licence, doc.date, doc.year, doc.doc_type,
             doc.language, json.dumps(doc.sections), json.dumps(doc.metadata, default=str), doc.hash),
        )

    def put_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[int]:
        ids = []
        for chunk, vector in zip(chunks, vectors):
            cursor = self._db.execute(
                "INSERT INTO chunks (doc_id, ordinal, start, end, section, text, vector) VALUES (?,?,?,?,?,?,?)",
                (chunk.doc_id, chunk.ordinal, chunk.start, chunk.end, chunk.section, chunk.text,
                 np.asarray(vector, dtype=np.float32).tobytes()),
            )
            chunk.id = int(cursor.lastrowid)  # type: ignore[arg-type]
            ids.append(chunk.id)
        return ids

    def delete_document(self, doc_id: str) -> list[int]:
        """Delete a document and its chunks; return the removed chunk ids."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    # -- reads ----------------------------------------------------------------
    def document_hash(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT hash FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def get_document(self, doc_id: str) -> Document | None:
        row = self._db.execute(
            "SELECT id, source, title, text, url, licence, date, doc_type, language, sections, metadata "
            "FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(id=row[0], source=row[1], title=row[2], text=row[3], url=row[4], licence=row[5],
                        date=row[6], doc_type=row[7], language=row[8] or "en",
                        sections=[tuple(s) for s in json.loads(row[9])], metadata=json.loads(row[10]))

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        """Passages with provenance for the given chunk ids (missing ids are left out)."""
        out: dict[int, Passage] = {}
        ids = [int(i) for i in chunk_ids]
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            rows = self._db.execute(
                "SELECT c.id, c.doc_id, c.text, c.start, c.end, c.section, d.title, d.source, d.url, d.licence,"
                " d.date, d.doc_type, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc_id"
                f" WHERE c.id IN ({','.join('?' * len(part))})", part)
            for r in rows:
                meta = json.loads(r[12])
                out[r[0]] = Passage(chunk_id=r[0], doc_id=r[1], text=r[2], score=0.0, start=r[3], end=r[4],
                                    section=r[5], title=r[6], source=r[7], url=r[8], licence=r[9], date=r[10],
                                    doc_type=r[11], metadata={k: meta[k] for k in ("curie", "ontology", "version", "focus", "cuis", "mesh") if k in meta})
        return out

    def document_of(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The document id of each given chunk id (missing ids are left out)."""
        out: dict[int, str] = {}
        ids = [int(i) for i in chunk_ids]
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            out.update(self._db.execute(f"SELECT id, doc_id FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
        return out

    def chunk_ids(self, filters: Filters | None = None) -> np.ndarray:
        where, params = (filters or Filters()).where()
        rows = self._db.execute(f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where}", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids, vectors)`` batches of every stored chunk in id order."""
        last = -1
        while True:
            rows = self._db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            last = int(ids[-1])
            yield ids, vectors

    def iter_texts(self) -> Iterator[tuple[int, str, str]]:
        """Yield ``(chunk id, chunk text, document title)`` in id order."""
        yield from self._db.execute(
            "SELECT c.id, c.text, d.title FROM chunks c JOIN documents d ON d.id = c.doc_id ORDER BY c.id")

    def vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        ids = [int(i) for i in chunk_ids]
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            for cid, blob in self._db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part):
                out[cid] = np.frombuffer(blob, dtype=np.float32)
        return out

    def counts(self) -> dict[str, int]:
        documents = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": int(documents), "chunks": int(chunks)}

    def sources(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT source, COUNT(*) FROM documents GROUP BY source ORDER BY source"))

    def document_ids(self, source_prefix: str | None = None) -> list[str]:
        if source_prefix:
            rows = self._db.execute("SELECT id FROM documents WHERE source = ? OR source LIKE ?", (source_prefix, f"{source_prefix}/%"))
        else:
            rows = self._db.execute("SELECT id FROM documents")
        return [r[0] for r in rows]

    def close(self) -> None:
        self._db.close()


class _Transaction:
    def __init__(self, store: DocStore) -> None:
        self.store = store

    def __enter__(self) -> DocStore:
        self.store._lock.acquire()
        self.store._db.execute("BEGIN IMMEDIATE")
        return self.store

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        try:
            if exc_type is None:
                self.store.set_meta("revision", str(self.store.revision + 1))
                self.store._db.execute("COMMIT")
            else:
                self.store._db.execute("ROLLBACK")
        finally:
            self.store._lock.release()


def iter_batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
