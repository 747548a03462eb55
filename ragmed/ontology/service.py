"""The ontology stage as the index sees it: build the concept store and its cards at index time, then
link and expand at request time.

Example:
    >>> cards = build_concepts(manifest.ontology, index_folder, report)   # at build time
    >>> service = OntologyService.open(index_folder / "concepts.sqlite")  # at request time
    >>> service.expand("heart attack").added_terms
    ['myocardial infarction', 'Myocardial infarct']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ragmed.errors import ConfigError, OntologyError
from ragmed.ontology.base import OntologySource
from ragmed.ontology.builder import build_concept_store
from ragmed.ontology.cards import concept_cards
from ragmed.ontology.expand import ExpandedQuery, expand_query
from ragmed.ontology.linker import Linker, get_linker
from ragmed.ontology.store import ConceptRecord, ConceptStore
from ragmed.types import Concept, Document, IngestReport, RecordError

STORE_FILENAME = "concepts.sqlite"
Progress = Callable[[str, int, "int | None"], None]

_NUMBERED_SUBTYPE = re.compile(r"\s\d+[A-Z]?$")


def _icd10cm_codes(record: ConceptRecord) -> list[str]:
    return [x.split(":", 1)[1] for x in record.xrefs if x.startswith("ICD10CM:")]


def _common(record: ConceptRecord) -> bool:
    codes = _icd10cm_codes(record)
    if not record.definition or not codes or _NUMBERED_SUBTYPE.search(record.label or ""):
        return False
    return any("." not in code or code.endswith(".9") for code in codes) or bool(record.symptoms)


CARD_SELECTIONS: dict[str, Callable[[ConceptRecord], bool]] = {
    "all": lambda r: True,
    "defined": lambda r: bool(r.definition),
    "clinical": lambda r: bool(r.definition) and bool(_icd10cm_codes(r)),
    "common": _common,
}
"""Which concepts of an ontology become cards. ``clinical``: a definition and an ICD-10-CM code (about
2,800 Disease Ontology cards). ``common``: of those, the diseases that name a whole ICD-10-CM category
(E11, I10, J45) or its unspecified form (N18.9, E03.9), or have Disease Ontology symptom links, numbered
genetic subtypes left out (about 730 cards: what the starter embeds so that its first build stays within
minutes on a CPU)."""
DEFAULT_SELECTION = "clinical"


class OntologyService:
    """Linking and expansion over one concept store; the linker is built on first use and shared.

    Args:
        store: the concept store of an index.
        max_terms: most terms query expansion adds.
    """

    def __init__(self, store: ConceptStore, max_terms: int = 8) -> None:
        self.store = store
        self.max_terms = max_terms
        self._lock = threading.Lock()
        self._linker: Linker | None = None

    @classmethod
    def open(cls, path: str | Path, max_terms: int = 8) -> OntologyService:
        """Open the concept store at ``path``.

        Raises:
            OntologyError: the file is missing or not a concept store.
        """
        return cls(ConceptStore(path), max_terms=max_terms)

    @property
    def linker(self) -> Linker:
        """The dictionary linker (built on first use, a few seconds for DO + ICD-10-CM + HPO)."""
        with self._lock:
            if self._linker is None:
                self._linker = get_linker(self.store)
            return self._linker

    def link(self, text: str) -> list[Concept]:
        """Concepts mentioned in ``text`` with spans and codes merged across ontologies."""
        return self.linker.link(text)

    def expand(self, text: str) -> ExpandedQuery:
        """``text`` with the labels and exact synonyms of its linked concepts added."""
        return expand_query(text, self.linker, self.store, max_terms=self.max_terms)

    def get(self, curie: str) -> Concept | None:
        """One concept merged across ontologies, or None."""
        return self.store.merged(curie)

    def ancestors(self, curie: str) -> set[str]:
        """``curie`` and every concept above it."""
        return self.store.ancestors(curie)

    def with_xref(self, xref: str) -> list[str]:
        """Concepts that cross-reference ``xref`` (``UMLS:C0011860``)."""
        return self.store.with_xref(xref)

    def count(self) -> int:
        """Number of concepts in the store."""
        return len(self.store)

    def close(self) -> None:
        self.store.close()


def as_source(entry: Any) -> OntologySource:
    """An ``OntologySource`` from a knowledge-manifest entry (any object with name, path, format,
    version, licence, attribution)."""
    return OntologySource(
        path=Path(entry.path), format=getattr(entry, "format", None) or None, name=getattr(entry, "name", None),
        version=getattr(entry, "version", None) or None, licence=getattr(entry, "licence", None) or None,
        attribution=getattr(entry, "attribution", None) or None, options=dict(getattr(entry, "options", {}) or {}))


def card_selection(cards: bool | str | None) -> Callable[[ConceptRecord], bool] | None:
    """The card filter named by a manifest ``cards`` value: False/None -> no cards, True -> the default
    (``clinical``), or a name of ``CARD_SELECTIONS``.

    Raises:
        ConfigError: an unknown selection name.
    """
    if cards is None or cards is False or cards == "":
        return None
    name = DEFAULT_SELECTION if cards is True else str(cards)
    if name not in CARD_SELECTIONS:
        raise ConfigError(f"cards must be true, false or one of {sorted(CARD_SELECTIONS)}, got {cards!r}")
    return CARD_SELECTIONS[name]


def build_concepts(sources: Iterable[Any], folder: str | Path, report: IngestReport,
                   progress: Progress | None = None) -> Iterator[Document]:
    """Build ``<folder>/concepts.sqlite`` from manifest ontology entries, then yield the concept cards of
    the entries whose ``cards`` is set (see ``card_selection``).

    Every bad record is added to ``report.errors`` with its file and line; the rest loads. If nothing
    can be loaded the error is recorded, no cards are yielded, and an existing store is left as it was.

    Args:
        sources: manifest entries (``ragmed.knowledge.OntologySource`` or ``OntologySource``).
        folder: the index folder.
        report: the ingest report of the build.
        progress: ``progress(stage, advance, total)`` callback; the stage is ``concepts``.

    Returns:
        An iterator of card ``Document`` objects for the index.
    """
    entries = list(sources)
    path = Path(folder) / STORE_FILENAME
    selections = []
    try:
        selections = [(entry, card_selection(getattr(entry, "cards", False))) for entry in entries]
        converted = [as_source(entry) for entry in entries]
        build_concept_store(converted, path, on_error=report.errors.append, progress=progress)
    except (OntologyError, ConfigError) as exc:
        report.errors.append(RecordError(location=str(path), message=str(exc)))
        return
    store = ConceptStore(path)
    try:
        for entry, include in selections:
            if include is not None:
                yield from concept_cards(store, ontologies=[str(entry.name)], include=include)
    finally:
        store.close()
