"""The engine: one object that asks, searches, adds and deletes over one index (or searches a shard set).

The CLI, the HTTP API and the evaluation harness all go through ``Engine``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ragmed.build import Progress, delete, ingest, open_cache, read_sources
from ragmed.cite import CitationChecker
from ragmed.config import Settings, load_settings
from ragmed.embedding import Embedder, shared_embedder
from ragmed.errors import ConfigError, InvalidRequestError, RequestCancelledError
from ragmed.generate.relevance import RelevanceGate
from ragmed.index.docstore import Filters
from ragmed.index.shards import ShardSet, read_only
from ragmed.index.store import CONCEPTS, IndexStore
from ragmed.retrieve import Query, Retrieval, make_reranker
from ragmed.safety import Triage, TriageResult, make_triage, redact_passages
from ragmed.text import is_blank
from ragmed.types import Answer, AnswerEvent, Concept, Document, IngestReport, Passage, SkippedShard, StreamEvent

logger = logging.getLogger(__name__)

__all__ = ["Engine", "Filters", "shared_embedder"]


def as_filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    """Accept ``Filters`` or a plain dict of its fields.

    Raises:
        InvalidRequestError: an unknown filter field.
    """
    if filters is None or isinstance(filters, Filters):
        return filters
    unknown = set(filters) - set(Filters.__dataclass_fields__)
    if unknown:
        raise InvalidRequestError(f"unknown filter field(s): {', '.join(sorted(unknown))}")
    return Filters(**filters)


class Engine:
    """Ask cited questions, search, and maintain one index; or ask and search a shard set (read only).

    Example:
        >>> engine = Engine.open()              # builds the starter index on first use
        >>> answer = engine.ask("What are the symptoms of type 2 diabetes?")
        >>> print(answer.text, [c.url for c in answer.citations])
    """

    def __init__(self, settings: Settings, store: IndexStore | ShardSet, embedder: Embedder) -> None:
        self.settings, self.store, self.embedder = settings, store, embedder
        self.cache = open_cache(settings, embedder)
        self._ontology = _load_ontology(store.folder / CONCEPTS)
        self.retriever = Retrieval(store, embedder, settings.retrieval,
                                    expander=self._expand if self._ontology else None,
                                    reranker=make_reranker(settings.retrieval))
        self._answerers: dict[tuple[str, int], Any] = {}
        self._answer_lock = threading.Lock()
        self._checker: CitationChecker | None = None
        self._triage: Triage | None = None

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings | None = None, index: str | None = None, *,
             build_if_missing: bool = True, progress: Progress | None = None) -> Engine:
        """Open ``indexes/<index>``; build the starter index from the knowledge manifest if it is missing.

        When no index is named and ``settings.index.shards`` lists some, those indexes are opened as one shard
        set (``ShardSet.open``; with ``settings.index.allow_partial`` a shard that cannot be opened is left out).

        Raises:
            IndexNotFoundError: the index (or a shard) does not exist and is not the buildable default.
            ModelMismatchError: the index (or a shard) was built with another embedding model.
            IndexCorruptError: an index file is damaged (naming the shard it belongs to).
        """
        settings = settings or load_settings()
        embedder = shared_embedder(settings)
        if index is None and settings.index.shards:
            folders = [settings.index.root / shard for shard in settings.index.shards]
            return cls(settings, ShardSet.open(folders, embedder.model_id, embedder.dimension, settings.index), embedder)
        name = index or settings.index.name
        folder = settings.index.root / name
        if not (folder / "docstore.sqlite").exists():
            if not (build_if_missing and name == settings.index.name):
                IndexStore.open(folder, None, None, settings.index)  # raises IndexNotFoundError listing indexes
            from ragmed.build import build_knowledge

            build_knowledge(settings, name=name, progress=progress, embedder=embedder)
        store = IndexStore.open(folder, embedder.model_id, embedder.dimension, settings.index)
        return cls(settings, store, embedder)

    @classmethod
    def create(cls, settings: Settings, index: str) -> Engine:
        """Create (or open) an empty index named ``index``."""
        embedder = shared_embedder(settings)
        store = IndexStore.create(settings.index.root / index, embedder.model_id, embedder.dimension, settings.index)
        return cls(settings, store, embedder)

    # -- reading -------------------------------------------------------------------
    @property
    def revision(self) -> int:
        """The newest committed index revision (another process's writes included)."""
        return self.store.revision

    def _expand(self, text: str) -> Query:
        assert self._ontology is not None
        expanded = self._ontology.expand(text)
        return Query(text, expanded.text, expanded.text, list(expanded.concepts))

    def concepts(self, text: str) -> list[Concept]:
        """Concepts linked in ``text`` with their codes (empty when the index has no ontology)."""
        return self._ontology.link(text) if self._ontology else []

    @contextmanager
    def skipped_shards(self) -> Iterator[list[SkippedShard]]:
        """Collect the shards left out of the searches made inside the block (in this thread).

        Yields:
            The shards of a shard set served with ``index.allow_partial`` that could not be opened or failed a
            search made inside the block, each once; always empty for a single index.
        """
        if isinstance(self.store, ShardSet):
            with self.store.skipped_shards() as skipped:
                yield skipped
        else:
            yield []

    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: Filters | dict[str, Any] | None = None) -> list[Passage]:
        """Top-``k`` passages for ``query`` (see ``Retrieval.search``); text that instructs the model or the
        reader is blanked and such titles replaced (``ragmed.safety.redact_passages``)."""
        return redact_passages(self.retriever.search(_clean(query), k=k, mode=mode, filters=as_filters(filters)))

    @property
    def ontology(self) -> Any:
        """The index's ontology service (linking, expansion, hierarchy), or None when it has no concept store."""
        return self._ontology

    @property
    def checker(self) -> CitationChecker:
        """The citation checker: the configured verifier and, when the index has ontologies, the topic check.

        Raises:
            ConfigError: the verifier cannot be loaded (see ``ragmed.verify.make_verifier``).
        """
        with self._answer_lock:
            if self._checker is None:
                from ragmed.embedding import cache_folder
                from ragmed.verify import make_verifier
                from ragmed.verify.topic import TopicJudge

                verifier = make_verifier(self.settings.verifier, self.embedder,
                                         cache_folder(self.settings.embedding, self.settings.index.root))
                topic = TopicJudge(self._ontology) if self._ontology else None
                self._checker = CitationChecker(verifier, self.settings.verifier.support_threshold, topic)
            return self._checker

    @property
    def triage(self) -> Triage:
        """The triage stage (``settings.safety.triage``), with this index's ontology concepts; built once.

        Raises:
            ConfigError: the safety bank or the triage weights cannot be read.
        """
        with self._answer_lock:
            if self._triage is None:
                self._triage = make_triage(self.settings, self.embedder,
                                           self._ontology.store if self._ontology else None)
            return self._triage

    def assess(self, question: str, audience: str | None = None) -> TriageResult:
        """Emergency guidance and declined personal requests for ``question`` (see ``Triage.assess``).

        Raises:
            InvalidRequestError: an empty question or an unknown audience.
        """
        question, audience = _clean(question), self._audience(audience)
        return self._assess(question, audience, self.retriever.expand(question))

    def _assess(self, question: str, audience: str, expanded: Query) -> TriageResult:
        # The expanded query is the text dense retrieval embedded: its embedding comes from the query cache.
        return self.triage.assess(question, audience, expanded.concepts, embed_text=expanded.dense_text)  # type: ignore[arg-type]

    def answerer(self, backend: str | None = None, max_new_tokens: int | None = None) -> Any:
        """The answerer for a generator backend (settings' default when None), built once.

        Args:
            backend: generator backend name.
            max_new_tokens: a token limit for this answerer (settings' limit when None); the
                generator model itself is shared between limits.

        Raises:
            InvalidRequestError: a non-positive ``max_new_tokens``.
        """
        from ragmed.generate.answer import Answerer
        if max_new_tokens is not None and max_new_tokens <= 0:
            raise InvalidRequestError(f"max_new_tokens must be greater than 0, got {max_new_tokens}")
        name = backend or self.settings.generation.backend
        limit = max_new_tokens or self.settings.generation.max_new_tokens
        checker = self.checker
        with self._answer_lock:
            if (name, limit) not in self._answerers:
                generation = self.settings.generation.model_copy(update={"backend": name, "max_new_tokens": limit})
                settings = self.settings.model_copy(update={"generation": generation})
                shared = next((a for (n, _), a in self._answerers.items() if n == name), None)
                # The answerer builds its generator on first use; a backend that cannot load gives an
                # extractive answer that says why instead of failing the engine.
                generator = shared.generator() if shared is not None else None
                gate = RelevanceGate(self.embedder, self.store.docstore.vectors, settings.verifier.relevance_threshold)
                self._answerers[(name, limit)] = Answerer(settings, self.embedder, generator, checker=checker, gate=gate)
            return self._answerers[(name, limit)]

    def _retrieve(self, question: str, k: int | None, filters: Any,
                  mode: str | None = None) -> tuple[Query, list[Passage], float, list[SkippedShard]]:
        started = time.perf_counter()
        expanded = self.retriever.expand(question)
        with self.skipped_shards() as skipped:
            passages = self.retriever.search(question, k=k, mode=mode, filters=as_filters(filters), expanded=expanded)
        return expanded, redact_passages(passages), time.perf_counter() - started, skipped

    def ask(self, question: str, audience: str | None = None, k: int | None = None,
            filters: Filters | dict[str, Any] | None = None, generator: str | None = None,
            max_new_tokens: int | None = None, cancel: threading.Event | None = None) -> Answer:
        """Answer ``question`` from the index with checked citations.

        Args:
            question: the question (must not be empty).
            audience: "clinician" or "public" (settings.safety.audience when None).
            k: passages used as evidence.
            filters: metadata filters for retrieval.
            generator: backend name for this call (settings.generation.backend when None).
            max_new_tokens: generation limit for this call (settings.generation.max_new_tokens when None).
            cancel: when set (by another thread), the work stops: retrieval is skipped if it has not
                started, generation stops at its next token.

        Raises:
            InvalidRequestError: an empty question or an unknown audience.
            RequestCancelledError: ``cancel`` was set before the answer was ready.
        """
        final: Answer | None = None
        for event in self.stream(question, audience, k, filters, generator, max_new_tokens, cancel=cancel):
            if isinstance(event, AnswerEvent):
                final = event.answer
        assert final is not None
        return final

    def stream(self, question: str, audience: str | None = None, k: int | None = None,
               filters: Filters | dict[str, Any] | None = None, generator: str | None = None,
               max_new_tokens: int | None = None, draft: bool = False,
               cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        """Like ``ask``, streaming: a ``LeadEvent`` (emergency guidance, a declined request) when there is
        one, each checked sentence as a ``SentenceEvent``, then the ``AnswerEvent``. With ``draft`` (the
        clinician audience only) the model's unchecked text also streams, as ``DraftEvent`` pieces.

        Raises:
            InvalidRequestError: an empty question, an unknown audience, or a draft asked for the public.
            RequestCancelledError: ``cancel`` was set (see ``ask``).
        """
        question, audience = _clean(question), self._audience(audience)
        started = time.perf_counter()
        _check(cancel)
        expanded, passages, retrieval_s, skipped = self._retrieve(question, k, filters)
        _check(cancel)
        answerer = self.answerer(generator, max_new_tokens)
        triage = self._assess(question, audience, expanded)
        for event in answerer.stream(question, passages, audience, expanded.concepts, draft=draft, triage=triage,
                                     cancel=cancel):
            if isinstance(event, AnswerEvent):
                event.answer.timings["triage_s"] = round(triage.seconds, 4)
                event.answer.skipped_shards = skipped
                event = AnswerEvent(self._finish(event.answer, expanded, retrieval_s, started))
            yield event

    def choose(self, question: str, options: dict[str, str], *, mode: str = "rag",
               context: list[str] | None = None, k: int | None = None,
               generator: str | None = None) -> tuple[str, dict[str, float]]:
        """Pick one option (multiple choice or yes/no/maybe) given retrieved, given or no evidence.

        Args:
            mode: "rag" retrieves evidence, "oracle" uses ``context``, "closed-book" uses none.
        """
        if mode not in ("rag", "oracle", "closed-book"):
            raise InvalidRequestError(f"mode must be rag, oracle or closed-book, got {mode!r}")
        passages: list[Passage] = []
        if mode == "rag":
            _, passages, _, _ = self._retrieve(_clean(question), k, None)
        elif mode == "oracle":
            passages = [Passage(chunk_id=-1 - i, doc_id=f"context:{i}", text=t, score=1.0, start=0, end=len(t))
                        for i, t in enumerate(context or [])]
        choice: tuple[str, dict[str, float]] = self.answerer(generator).choose(question, options, passages)
        return choice

    def _audience(self, audience: str | None) -> str:
        audience = audience or self.settings.safety.audience
        if audience not in ("clinician", "public"):
            raise InvalidRequestError(f"audience must be 'clinician' or 'public', got {audience!r}")
        return audience

    def _finish(self, answer: Answer, expanded: Query, retrieval_s: float, started: float) -> Answer:
        concepts: dict[str, Concept] = {}
        for concept in [*expanded.concepts, *self.concepts(answer.text)]:
            concepts.setdefault(concept.curie, concept)
        answer.concepts = list(concepts.values())
        answer.timings = {"retrieval_s": round(retrieval_s, 4), **answer.timings,
                          "total_s": round(time.perf_counter() - started, 4)}
        answer.index_revision = self.revision
        return answer

    def get_document(self, doc_id: str) -> Document | None:
        return self.store.docstore.get_document(doc_id)

    def info(self) -> dict[str, Any]:
        from ragmed.knowledge import GEMMA_NOTICE, load_manifest

        info = self.store.info().to_dict()
        info["generator"] = self.settings.generation.backend
        info["concepts"] = self._ontology.count() if self._ontology else 0
        try:
            info["attribution"] = load_manifest(self.settings.knowledge).attributions
        except ConfigError:
            info["attribution"] = []
        info["attribution"].append({"name": "gemma", "licence": "Gemma Terms of Use", "attribution": GEMMA_NOTICE})
        return info

    # -- writing -------------------------------------------------------------------
    def _writable(self) -> IndexStore:
        """The index that writes go to.

        Raises:
            InvalidRequestError: the engine serves a shard set, which is searched but not written to.
        """
        if isinstance(self.store, ShardSet):
            raise read_only([s.folder.name for s in self.store.stores])
        return self.store

    def add(self, documents: Iterable[Document], progress: Progress | None = None) -> IngestReport:
        """Add or update documents; only changed ones are embedded.

        Raises:
            InvalidRequestError: the engine serves a shard set.
        """
        return ingest(self._writable(), self.embedder, documents, self.settings, self.cache, progress)

    def add_paths(self, paths: Sequence[str | Path], format: str | None = None,
                  progress: Progress | None = None) -> IngestReport:
        """Add every record of the given files or folders in any supported format.

        Raises:
            InvalidRequestError: the engine serves a shard set.
        """
        report = IngestReport()
        return ingest(self._writable(), self.embedder, read_sources(paths, report, format), self.settings,
                      self.cache, progress, report)

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Delete documents by id; return how many existed.

        Raises:
            InvalidRequestError: the engine serves a shard set.
        """
        return delete(self._writable(), doc_ids)

    def close(self) -> None:
        self.store.close()


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RequestCancelledError("the request was cancelled")


def _clean(question: str) -> str:
    if not isinstance(question, str) or is_blank(question):
        raise InvalidRequestError("question must not be empty")
    return question.strip()


def _load_ontology(path: Path) -> Any:
    if not path.exists():
        return None
    from ragmed.ontology.service import OntologyService

    return OntologyService.open(path)
