"""SQLite docstore: documents, chunks with their vectors, the index revision and its change log.

The docstore is the durable record of what is indexed. Every change is one SQLite transaction
that bumps ``revision``; each chunk records the revision that added it, and each removed chunk id
is logged with the revision that removed it. Any reader holding the FAISS and BM25 indexes of
revision R brings them to the newest revision by applying the chunks added and removed after R,
which costs what the change costs. The FAISS and BM25 files are derived from the docstore and can
always be rebuilt from the stored vectors and texts.

Writes go through one connection; reads use one connection per thread, so in WAL mode a search
never waits for a write and never sees one half done.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

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
    text TEXT NOT NULL, vector BLOB NOT NULL, rev INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS removed (chunk_id INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS removed_rev ON removed(rev);
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


@dataclass(frozen=True)
class Changes:
    """What changed in the docstore after one revision, read as of a later one."""

    revision: int
    floor: int
    added_ids: np.ndarray
    added_vectors: np.ndarray
    added_texts: list[str]
    removed_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.added_ids) + len(self.removed_ids)


PASSAGE_META = ("curie", "ontology", "version", "focus", "cuis", "mesh")


class DocStore:
    """Documents and chunks in one SQLite file (WAL journal, foreign keys on).

    Example:
        >>> store = DocStore(Path("indexes/demo/docstore.sqlite"))
        >>> with store.transaction() as tx:
        ...     tx.put_document(document)
        ...     tx.put_chunks(chunks, vectors)
    """

    def __init__(self, path: Path, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._timeout = busy_timeout_s
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._db = self._connect()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=self._timeout)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _migrate(self) -> None:
        """Create the schema, or add what an older docstore lacks (the change log), in one transaction."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(chunks)")}
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if columns and "rev" in columns and "removed" in tables:
            return
        with self._write_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                columns = {r[1] for r in self._db.execute("PRAGMA table_info(chunks)")}
                if columns and "rev" not in columns:
                    self._db.execute("ALTER TABLE chunks ADD COLUMN rev INTEGER NOT NULL DEFAULT 0")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("CREATE INDEX IF NOT EXISTS chunks_rev ON chunks(rev)")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _read(self) -> sqlite3.Connection:
        """This thread's read connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    # -- meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set one meta value in its own transaction (it does not change the revision)."""
        with self._write_lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def revision(self) -> int:
        """The last committed revision."""
        return int(self.get_meta("revision") or 0)

    @property
    def log_floor(self) -> int:
        """Removals at or before this revision are no longer logged (a reader older than it reloads)."""
        return int(self.get_meta("log_floor") or 0)

    def prune_log(self, floor: int) -> None:
        """Forget removals at or before ``floor`` (one transaction; the revision does not change)."""
        with self._write_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM removed WHERE rev <= ?", (floor,))
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('log_floor', ?)", (str(floor),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- writes -----------------------------------------------------------------
    def transaction(self) -> Transaction:
        """A write transaction that bumps the revision when it commits something (nothing changed: no commit)."""
        return Transaction(self)

    # -- reads ----------------------------------------------------------------
    def document_hash(self, doc_id: str) -> str | None:
        row = self._read().execute("SELECT hash FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def existing(self, doc_ids: Sequence[str]) -> set[str]:
        """Those of ``doc_ids`` that are stored."""
        found: set[str] = set()
        ids = list(dict.fromkeys(doc_ids))
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            rows = self._read().execute(f"SELECT id FROM documents WHERE id IN ({','.join('?' * len(part))})", part)
            found.update(r[0] for r in rows)
        return found

    def get_document(self, doc_id: str) -> Document | None:
        row = self._read().execute(
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
            rows = self._read().execute(
                "SELECT c.id, c.doc_id, c.text, c.start, c.end, c.section, d.title, d.source, d.url, d.licence,"
                " d.date, d.doc_type, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc_id"
                f" WHERE c.id IN ({','.join('?' * len(part))})", part)
            for r in rows:
                meta = json.loads(r[12])
                out[r[0]] = Passage(chunk_id=r[0], doc_id=r[1], text=r[2], score=0.0, start=r[3], end=r[4],
                                    section=r[5], title=r[6], source=r[7], url=r[8], licence=r[9], date=r[10],
                                    doc_type=r[11], metadata={k: meta[k] for k in PASSAGE_META if k in meta})
        return out

    def document_of(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The document id of each given chunk id (missing ids are left out)."""
        out: dict[int, str] = {}
        ids = [int(i) for i in chunk_ids]
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            out.update(self._read().execute(
                f"SELECT id, doc_id FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
        return out

    def chunk_ids(self, filters: Filters | None = None) -> np.ndarray:
        """Ids of the chunks whose documents pass ``filters`` (all chunks when None), ascending."""
        where, params = (filters or Filters()).where()
        rows = self._read().execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE {where} ORDER BY c.id", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids, vectors)`` batches of every stored chunk in id order."""
        last = -1
        while True:
            rows = self._read().execute(
                "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            last = int(ids[-1])
            yield ids, vectors

    def changes_since(self, revision: int) -> Changes:
        """Chunks added and removed after ``revision``, read in one snapshot of the newest revision.

        Added chunks come with their vectors and their lexical text (document title, newline, chunk text).
        A chunk both added and removed after ``revision`` appears only among the removed ids.
        """
        db = self._read()
        db.execute("BEGIN")
        try:
            meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('revision', 'log_floor')").fetchall())
            rows = db.execute(
                "SELECT c.id, c.vector, d.title, c.text FROM chunks c INDEXED BY chunks_rev "
                "JOIN documents d ON d.id = c.doc_id WHERE c.rev > ?", (revision,)).fetchall()
            rows.sort(key=lambda r: int(r[0]))
            removed = np.sort(np.fromiter((r[0] for r in db.execute(
                "SELECT chunk_id FROM removed INDEXED BY removed_rev WHERE rev > ?", (revision,))), dtype=np.int64))
        finally:
            db.execute("COMMIT")
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]) if rows else \
            np.empty((0, 0), dtype=np.float32)
        return Changes(int(meta.get("revision") or 0), int(meta.get("log_floor") or 0), ids, vectors, [f"{r[2]}\n{r[3]}" for r in rows], removed)

    def live_ids(self) -> tuple[int, np.ndarray]:
        """The newest revision and the ids of its chunks (ascending), read in one snapshot."""
        db = self._read()
        db.execute("BEGIN")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
            ids = np.fromiter((r[0] for r in db.execute("SELECT id FROM chunks ORDER BY id")), dtype=np.int64)
        finally:
            db.execute("COMMIT")
        return (int(row[0]) if row else 0), ids

    def pending_since(self, revision: int) -> int:
        """Chunks added or removed after ``revision``."""
        db = self._read()
        added = db.execute("SELECT COUNT(*) FROM chunks WHERE rev > ?", (revision,)).fetchone()[0]
        removed = db.execute("SELECT COUNT(*) FROM removed WHERE rev > ?", (revision,)).fetchone()[0]
        return int(added) + int(removed)

    def vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        ids = [int(i) for i in chunk_ids]
        for begin in range(0, len(ids), 500):
            part = ids[begin:begin + 500]
            for cid, blob in self._read().execute(
                    f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part):
                out[cid] = np.frombuffer(blob, dtype=np.float32)
        return out

    def counts(self) -> dict[str, int]:
        db = self._read()
        documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": int(documents), "chunks": int(chunks)}

    def sources(self) -> dict[str, int]:
        return dict(self._read().execute("SELECT source, COUNT(*) FROM documents GROUP BY source ORDER BY source"))

    def document_ids(self, source_prefix: str | None = None) -> list[str]:
        db = self._read()
        if source_prefix:
            rows = db.execute("SELECT id FROM documents WHERE source = ? OR source LIKE ?",
                              (source_prefix, f"{source_prefix}/%"))
        else:
            rows = db.execute("SELECT id FROM documents")
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._readers_lock:
            for db in self._readers:
                db.close()
            self._readers.clear()
        self._local = threading.local()
        self._db.close()


class Transaction:
    """One write transaction (``BEGIN IMMEDIATE``): the revision goes up by one if anything was written."""

    def __init__(self, store: DocStore) -> None:
        self.store = store
        self._db = store._db
        self.changed = False
        self.revision = 0

    def __enter__(self) -> Transaction:
        self.store._write_lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        except BaseException:
            self.store._write_lock.release()
            raise
        self.revision = (int(row[0]) if row else 0) + 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None and self.changed:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (str(self.revision),))
                self._db.execute("COMMIT")
            else:
                self._db.execute("ROLLBACK")
        finally:
            self.store._write_lock.release()

    def document_hash(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT hash FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def put_document(self, doc: Document) -> None:
        self.changed = True
        self._db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, doc.source, doc.title, doc.text, doc.url, doc.licence, doc.date, doc.year, doc.doc_type,
             doc.language, json.dumps(doc.sections), json.dumps(doc.metadata, default=str), doc.hash),
        )

    def put_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[int]:
        """Insert chunks with their vectors; sets and returns their new ids (never reused)."""
        ids = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            cursor = self._db.execute(
                "INSERT INTO chunks (doc_id, ordinal, start, end, section, text, vector, rev) VALUES (?,?,?,?,?,?,?,?)",
                (chunk.doc_id, chunk.ordinal, chunk.start, chunk.end, chunk.section, chunk.text,
                 np.asarray(vector, dtype=np.float32).tobytes(), self.revision),
            )
            chunk.id = int(cursor.lastrowid or 0)
            ids.append(chunk.id)
        self.changed = self.changed or bool(ids)
        return ids

    def delete_document(self, doc_id: str) -> list[int]:
        """Delete a document and its chunks (logging their ids as removed); return the removed chunk ids."""
        ids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        self._db.executemany("INSERT OR REPLACE INTO removed VALUES (?, ?)", [(i, self.revision) for i in ids])
        self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        gone = self._db.execute("DELETE FROM documents WHERE id = ?", (doc_id,)).rowcount
        self.changed = self.changed or bool(ids) or gone > 0
        return ids

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def iter_batches(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
