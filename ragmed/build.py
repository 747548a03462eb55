"""Ingest: read sources, chunk, embed only what changed, and commit to an index."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ragmed.chunking import chunk_document
from ragmed.config import Settings
from ragmed.embed import Embedder, EmbeddingCache, embed_with_cache
from ragmed.errors import IngestError
from ragmed.index.store import IndexStore
from ragmed.types import Document, IngestReport, RecordError

logger = logging.getLogger(__name__)

#: ``progress(stage, advance, total)``: stage "read" counts documents, "embed" counts chunks.
Progress = Callable[[str, int, "int | None"], None]


def open_cache(settings: Settings, embedder: Embedder) -> EmbeddingCache:
    """The embedding cache shared by every index under the index root."""
    folder = settings.embedding.cache_dir or settings.index.root / ".cache"
    return EmbeddingCache(Path(folder) / "embeddings.sqlite", embedder.model_id, embedder.dimension)


def validate(document: Document) -> str | None:
    """Why ``document`` cannot be indexed, or None when it can."""
    if not isinstance(document.id, str) or not document.id.strip():
        return "record has no id"
    if not isinstance(document.text, str) or not document.text.strip():
        return "record has no text"
    return None


def read_sources(paths: Sequence[str | Path], report: IngestReport, fmt: str | None = None) -> Iterator[Document]:
    """Documents of every file or folder in ``paths``; bad records land in ``report.errors``."""
    from ragmed.sources import read_path

    for path in paths:
        try:
            yield from read_path(Path(path), fmt, report.errors.append)
        except IngestError as exc:
            report.errors.append(RecordError(exc.location or str(path), str(exc)))
        except FileNotFoundError as exc:
            report.errors.append(RecordError(str(path), f"no such file or folder: {exc.filename or path}"))


def ingest(
    store: IndexStore,
    embedder: Embedder,
    documents: Iterable[Document],
    settings: Settings,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    report: IngestReport | None = None,
    batch_size: int = 256,
) -> IngestReport:
    """Add or update ``documents`` in ``store``; unchanged documents cost nothing.

    Documents are committed in batches (each one SQLite transaction); the derived FAISS and
    BM25 files are written once at the end.

    Returns:
        Counts of added, updated, unchanged and skipped documents, chunks embedded and reused,
        and one error per skipped record.
    """
    report = report or IngestReport()
    batch: dict[str, Document] = {}
    for document in documents:
        problem = validate(document)
        if problem:
            report.skipped += 1
            report.errors.append(RecordError(str(document.metadata.get("location") or document.id or "?"), problem))
            continue
        if progress:
            progress("read", 1, None)
        batch[document.id] = document
        if len(batch) >= batch_size:
            _commit(store, embedder, list(batch.values()), settings, cache, progress, report)
            batch = {}
    if batch:
        _commit(store, embedder, list(batch.values()), settings, cache, progress, report)
    report.skipped = max(report.skipped, len(report.errors))
    store.flush()
    return report


def _commit(store: IndexStore, embedder: Embedder, documents: list[Document], settings: Settings,
            cache: EmbeddingCache | None, progress: Progress | None, report: IngestReport) -> None:
    changed = []
    for document in documents:
        previous = store.docstore.document_hash(document.id)
        if previous == document.hash:
            report.unchanged += 1
            continue
        if previous is None:
            report.added += 1
        else:
            report.updated += 1
        changed.append(document)
    if not changed:
        return
    chunked = [(d, chunk_document(d, settings.chunking)) for d in changed]
    texts = [c.text for _, chunks in chunked for c in chunks]
    if progress:
        progress("embed", 0, len(texts))
    vectors, fresh = embed_with_cache(embedder, texts, cache,
                                      progress=(lambda n: progress("embed", n, None)) if progress else None)
    report.chunks_embedded += fresh
    report.chunks_cached += len(texts) - fresh
    upserts, offset = [], 0
    for document, chunks in chunked:
        upserts.append((document, chunks, vectors[offset:offset + len(chunks)]))
        offset += len(chunks)
    store.commit(upserts=upserts, save=False)


def delete(store: IndexStore, doc_ids: Sequence[str]) -> int:
    """Delete documents by id; return how many existed."""
    _, deleted = store.commit(deletes=list(doc_ids))
    return deleted


def build_index(
    sources: Sequence[str | Path] | Iterable[Document],
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    fmt: str | None = None,
) -> IngestReport:
    """Create (or update) ``indexes/<name>`` from files, folders or ``Document`` objects.

    Args:
        sources: paths of files or folders in any supported format, or documents.
        settings: settings (index root, model, chunking, factory).
        name: index name (settings.index.name when None).
        progress: progress callback.
        embedder: an already loaded embedder to reuse.
        fmt: reader name to force for every path.
    """
    from ragmed.engine import shared_embedder

    embedder = embedder or shared_embedder(settings)
    name = name or settings.index.name
    store = IndexStore.create(settings.index.root / name, embedder.model_id, embedder.dimension, settings.index)
    report = IngestReport()
    items = list(sources) if not isinstance(sources, (list, tuple)) else sources
    if items and all(isinstance(s, Document) for s in items):
        documents: Iterable[Document] = items  # type: ignore[assignment]
    else:
        documents = read_sources([Path(s) for s in items], report, fmt)  # type: ignore[arg-type]
    cache = open_cache(settings, embedder)
    try:
        return ingest(store, embedder, documents, settings, cache, progress, report)
    finally:
        cache.close()
        store.close()


KNOWLEDGE_DOCUMENTS = "knowledge_documents"
"""Docstore meta key: the ids of the documents the last knowledge build read from the manifest."""


def build_knowledge(
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    manifest_path: Path | None = None,
) -> IngestReport:
    """Build an index from a knowledge manifest: its literature, ontology concept store and concept cards.

    Rebuilding after the manifest changed mirrors it: documents an earlier manifest build added and this one
    no longer reads are deleted, but only when every source read without error (a source that failed keeps
    what it indexed before). Documents added to the index by other means are never touched.
    """
    from ragmed.engine import shared_embedder
    from ragmed.knowledge import load_manifest

    manifest = load_manifest(manifest_path or settings.knowledge)
    embedder = embedder or shared_embedder(settings)
    name = name or settings.index.name
    store = IndexStore.create(settings.index.root / name, embedder.model_id, embedder.dimension, settings.index)
    report = IngestReport()
    cache = open_cache(settings, embedder)
    try:
        documents: list[Iterable[Document]] = []
        for source in manifest.literature:
            documents.append(_with_licence(read_sources([source.path], report, source.reader), source.licence))
        if manifest.ontology:
            documents.append(_ontology_cards(manifest, store, report, progress))
        read: set[str] = set()
        ingest(store, embedder, _remember(_chain(documents), read), settings, cache, progress, report)
        previous = set(json.loads(store.docstore.get_meta(KNOWLEDGE_DOCUMENTS) or "[]"))
        if report.errors:
            read |= previous
        elif previous - read:
            report.deleted = delete(store, sorted(previous - read))
        store.docstore.set_meta(KNOWLEDGE_DOCUMENTS, json.dumps(sorted(read)))
        return report
    finally:
        cache.close()
        store.close()


def _remember(documents: Iterable[Document], ids: set[str]) -> Iterator[Document]:
    for document in documents:
        ids.add(document.id)
        yield document


def _chain(groups: list[Iterable[Document]]) -> Iterator[Document]:
    for group in groups:
        yield from group


def _with_licence(documents: Iterable[Document], licence: str) -> Iterator[Document]:
    for document in documents:
        if not document.licence and licence:
            document.licence = licence
        yield document


def _ontology_cards(manifest, store: IndexStore, report: IngestReport, progress: Progress | None) -> Iterator[Document]:  # type: ignore[no-untyped-def]
    from ragmed.ontology.service import build_concepts

    yield from build_concepts(manifest.ontology, store.folder, report, progress)
