"""Ingest: read sources, chunk, embed only what changed, and commit to an index."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ragmed.chunking import make_chunker
from ragmed.config import Settings
from ragmed.embedding import Embedder, EmbeddingCache, cache_folder, embed_with_cache, shared_embedder
from ragmed.errors import ConfigError
from ragmed.index.store import CONCEPTS, IndexStore
from ragmed.sources import read_sources
from ragmed.types import Document, IngestReport, RecordError

logger = logging.getLogger(__name__)
__all__ = ["Progress", "build_index", "build_knowledge", "delete", "ingest", "open_cache", "read_sources", "validate"]

#: ``progress(stage, advance, total)``: stage "read" counts documents, "embed" counts chunks.
Progress = Callable[[str, int, "int | None"], None]


def open_cache(settings: Settings, embedder: Embedder) -> EmbeddingCache:
    """The embedding cache shared by every index under the index root."""
    folder = cache_folder(settings.embedding, settings.index.root)
    return EmbeddingCache(folder / "embeddings.sqlite", embedder.model_id, embedder.dimension)


def validate(document: Document) -> str | None:
    """Why ``document`` cannot be indexed, or None when it can."""
    if not isinstance(document.id, str) or not document.id.strip():
        return "record has no id"
    if not isinstance(document.text, str) or not document.text.strip():
        return "record has no text"
    return None


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

    Documents are committed in batches, each one SQLite transaction applied to the in-memory
    indexes at once; base files are rewritten only when enough changes have gathered.

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
    store.merge_if_due()
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
    _add_focus(store, changed)
    _flag_instructions(changed, report)
    chunker = make_chunker(settings.chunking)
    chunked = [(d, chunker.chunk(d)) for d in changed]
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
    store.commit(upserts=upserts, merge=False)


def _add_focus(store: IndexStore, documents: list[Document]) -> None:
    """Record the conditions each document is about (``metadata["focus"]``) when the index has ontologies."""
    path = store.folder / CONCEPTS
    if not path.exists():
        return
    from ragmed.ontology.service import OntologyService
    from ragmed.verify.topic import document_focus

    service = OntologyService.open(path)
    try:
        for document in documents:
            document.metadata["focus"] = document_focus(document, service)
    finally:
        service.close()


def _flag_instructions(documents: list[Document], report: IngestReport) -> None:
    """Record in each document's metadata, and in ``report.flagged``, the sentences and title that read
    like instructions to the model or the reader (they are kept out of prompts and answers)."""
    from ragmed.safety import scan_document
    from ragmed.types import FlaggedText

    for document in documents:
        spans = scan_document(document)
        document.metadata.pop("injection", None)
        if spans:
            document.metadata["injection"] = spans
            report.flagged += [FlaggedText(document.id, s["field"], s["start"], s["end"], s["score"]) for s in spans]


def delete(store: IndexStore, doc_ids: Sequence[str]) -> int:
    """Delete documents by id; return how many existed."""
    return store.commit(deletes=list(doc_ids)).deleted


def build_index(
    sources: Sequence[str | Path] | Iterable[Document],
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    fmt: str | None = None,
    engine: str = "local",
) -> IngestReport:
    """Create (or update) ``indexes/<name>`` from files, folders or ``Document`` objects.

    Args:
        sources: paths of files or folders in any supported format, or documents.
        settings: settings (index root, model, chunking, factory).
        name: index name (settings.index.name when None).
        progress: progress callback.
        embedder: an already loaded embedder to reuse.
        fmt: reader name to force for every path.
        engine: "local", or "ray" to embed the files with Ray Data first (``ragmed.distributed``).

    Raises:
        ConfigError: an unknown engine, or the ray engine given documents instead of files.
        MissingDependencyError: the ray engine without Ray installed (extra ``ray``).
    """
    name = name or settings.index.name
    if engine != "local":
        if any(isinstance(s, Document) for s in sources):
            raise ConfigError(f"the {engine!r} build engine reads files and folders, not Document objects")
        embedder = _engine_embedder(engine, [(Path(s), fmt) for s in sources], settings, name, progress)  # type: ignore[arg-type]
    embedder = embedder or shared_embedder(settings)
    store = IndexStore.create(settings.index.root / name, embedder.model_id, embedder.dimension, settings.index)
    report = IngestReport()
    items = list(sources) if not isinstance(sources, (list, tuple)) else sources
    if items and all(isinstance(s, Document) for s in items):
        documents: Iterable[Document] = items  # type: ignore[assignment]
    else:
        documents = read_sources([Path(s) for s in items], report, fmt)  # type: ignore[arg-type]
    cache = open_cache(settings, embedder)
    try:
        report = ingest(store, embedder, documents, settings, cache, progress, report)
        store.flush()
        return report
    finally:
        cache.close()
        store.close()


def _engine_embedder(engine: str, sources: list[tuple[Path, str | None]], settings: Settings, name: str,
                     progress: Progress | None) -> Embedder:
    """Embed ``sources`` with the named distributed engine; the index is then built from its shards."""
    if engine != "ray":
        raise ConfigError(f"build engine must be 'local' or 'ray', got {engine!r}")
    from ragmed.distributed import ShardEmbedder, embed_sources

    folder = cache_folder(settings.embedding, settings.index.root) / "shards" / name
    return ShardEmbedder(embed_sources(sources, settings, folder, progress), settings)


KNOWLEDGE_DOCUMENTS = "knowledge_documents"
"""Docstore meta key: for each manifest source, the ids of the documents knowledge builds read from it."""


def build_knowledge(
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    manifest_path: Path | None = None,
    engine: str = "local",
) -> IngestReport:
    """Build an index from a knowledge manifest: its literature, ontology concept store and concept cards.

    Rebuilding after the manifest changed mirrors it: documents an earlier manifest build read and this one
    no longer reads are deleted, source by source. A source that reports an error or yields nothing keeps
    what it indexed before (and says so in ``report.errors``); documents added to the index by other means
    are never touched.
    """
    from ragmed.knowledge import load_manifest

    manifest = load_manifest(manifest_path or settings.knowledge)
    name = name or settings.index.name
    if engine != "local":
        literature = [(Path(source.path), source.reader) for source in manifest.literature]
        embedder = _engine_embedder(engine, literature, settings, name, progress)
    embedder = embedder or shared_embedder(settings)
    store = IndexStore.create(settings.index.root / name, embedder.model_id, embedder.dimension, settings.index)
    report = IngestReport()
    cache = open_cache(settings, embedder)
    try:
        read: dict[str, set[str]] = {}
        failed: set[str] = set()
        groups: list[Iterable[Document]] = []
        if manifest.ontology:
            # The concept store is built first, so literature documents get their focus concepts.
            cards = _ontology_cards(manifest, store, report, progress)
            groups.append(_tracked("ontology", cards, read, failed, report,
                                   expected=any(entry.cards for entry in manifest.ontology)))
        for source in manifest.literature:
            documents = _with_licence(read_sources([source.path], report, source.reader), source.licence)
            groups.append(_tracked(f"literature/{source.name}", documents, read, failed, report))
        ingest(store, embedder, _chain(groups), settings, cache, progress, report)
        report.deleted = _mirror(store, read, failed)
        store.flush()
        return report
    finally:
        cache.close()
        store.close()


def _tracked(key: str, documents: Iterable[Document], read: dict[str, set[str]], failed: set[str],
             report: IngestReport, expected: bool = True) -> Iterator[Document]:
    """Pass ``documents`` through, noting their ids under ``key``; a source that reports an error, or
    yields nothing when documents are ``expected``, is noted in ``failed``."""
    ids = read.setdefault(key, set())
    errors = len(report.errors)
    for document in documents:
        ids.add(document.id)
        yield document
    if not ids and expected:
        report.errors.append(RecordError(key, "no documents read from this source"))
    if len(report.errors) > errors:
        failed.add(key)


def _mirror(store: IndexStore, read: dict[str, set[str]], failed: set[str]) -> int:
    """Delete what earlier manifest builds read from sources that this build read without error and did
    not find again (or that left the manifest); record what each source holds now. Returns the deletions."""
    raw = store.docstore.get_meta(KNOWLEDGE_DOCUMENTS)
    previous: dict[str, list[str]] = json.loads(raw) if raw else {}
    if not isinstance(previous, dict):
        previous = {}
    now = set().union(*read.values()) if read else set()
    protected = set().union(*(previous.get(key, []) for key in failed)) if failed else set()
    gone = set().union(*(set(ids) for key, ids in previous.items() if key not in failed)) - now - protected
    for key in sorted(failed & set(previous)):
        logger.warning("knowledge source %s did not read cleanly; the documents it indexed before are kept", key)
    held = {key: sorted(ids | (set(previous.get(key, [])) if key in failed else set())) for key, ids in read.items()}
    deleted = delete(store, sorted(gone)) if gone else 0
    store.docstore.set_meta(KNOWLEDGE_DOCUMENTS, json.dumps(held))
    return deleted


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
