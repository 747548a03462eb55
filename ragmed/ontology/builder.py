"""Build the concept store from ontology sources: triples in, one SQLite file out.

Example:
    >>> sources = [OntologySource(Path("doid.obo"), name="disease-ontology", licence="CC0-1.0")]
    >>> report = build_concept_store(sources, "indexes/starter/concepts.sqlite")
    >>> report.concepts, report.errors
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragmed.errors import OntologyError
from ragmed.ontology import curies
from ragmed.ontology.base import OnError, OntologySource, Triple, get_loader
from ragmed.ontology.schema import INDEXES, SCHEMA, SCHEMA_VERSION
from ragmed.types import RecordError

_CLASS_TYPES = {curies.OWL_CLASS, curies.SKOS + "Concept"}
_NOT_CONCEPTS = {curies.OWL_ONTOLOGY, curies.OWL + "ObjectProperty", curies.OWL + "AnnotationProperty",
                 curies.OWL + "DatatypeProperty", "http://www.w3.org/1999/02/22-rdf-syntax-ns#Property"}
_SYNONYMS = {iri: scope for scope, iri in curies.SYNONYM_PREDICATES.items()}
_SYNONYMS[curies.ALT_LABEL] = "exact"
_XREFS = {curies.HAS_DBXREF, curies.EXACT_MATCH}
_PARENTS = {curies.SUBCLASS_OF, curies.BROADER}
_DEFINITIONS = {curies.DEFINITION, curies.SKOS_DEFINITION}
_FEATURES = {curies.HAS_PHENOTYPE: "phenotype", curies.HAS_SYMPTOM: "symptom"}


@dataclass
class SourceCounts:
    """What one source contributed."""

    name: str
    format: str
    version: str | None
    triples: int = 0
    concepts: int = 0
    errors: int = 0
    seconds: float = 0.0
    loader: dict[str, int] = field(default_factory=dict)


@dataclass
class OntologyReport:
    """Counts of one concept-store build; ``errors`` name every skipped record (file and line)."""

    path: str
    sources: list[SourceCounts] = field(default_factory=list)
    concepts: int = 0
    triples: int = 0
    errors: list[RecordError] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [str(e) for e in self.errors]
        return data


class _Acc:
    __slots__ = (
        "definition",
        "excluded",
        "features",
        "is_class",
        "label",
        "label_rank",
        "parents",
        "source",
        "synonyms",
        "triples",
        "types",
        "version",
        "xrefs",
    )

    def __init__(self) -> None:
        self.label: str | None = None
        self.label_rank = 9
        self.definition: str | None = None
        self.synonyms: list[tuple[str, str]] = []
        self.parents: list[str] = []
        self.xrefs: list[str] = []
        self.types: list[str] = []
        self.features: list[tuple[str, str]] = []
        self.source: str | None = None
        self.version: str | None = None
        self.is_class = False
        self.excluded = False
        self.triples = 0


class ConceptBuilder:
    """Folds a stream of triples into per-concept records, then writes the SQLite store."""

    def __init__(self) -> None:
        self._acc: dict[str, _Acc] = {}

    def add(self, triple: Triple) -> None:
        """Fold one triple into the record of its subject (blank-node subjects are ignored)."""
        s, p, o = str(triple[0]), str(triple[1]), triple[2]
        if type(triple[0]).__name__ == "BNode":  # checked by name: lookups must not import rdflib
            return
        acc = self._acc.get(s)
        if acc is None:
            acc = self._acc[s] = _Acc()
        acc.triples += 1
        if acc.source is None:
            acc.source, acc.version = triple.source, triple.version
        is_literal = type(o).__name__ == "Literal"
        if is_literal and getattr(o, "language", None) and not str(o.language).lower().startswith("en"):
            return
        if p == curies.RDF_TYPE:
            acc.is_class |= str(o) in _CLASS_TYPES
            acc.excluded |= str(o) in _NOT_CONCEPTS
        elif p in (curies.LABEL, curies.PREF_LABEL):
            rank = 0 if p == curies.PREF_LABEL else 1
            if rank < acc.label_rank:
                if acc.label is not None:
                    acc.synonyms.append((acc.label, "exact"))
                acc.label, acc.label_rank = str(o), rank
                acc.source, acc.version = triple.source, triple.version
            elif str(o) != acc.label:
                acc.synonyms.append((str(o), "exact"))
        elif p in _SYNONYMS:
            acc.synonyms.append((str(o), _SYNONYMS[p]))
        elif p in _DEFINITIONS:
            acc.definition = acc.definition or str(o)
        elif p in _PARENTS and not is_literal and type(o).__name__ != "BNode":
            acc.parents.append(curies.iri_to_curie(str(o)))
        elif p in _XREFS:
            xref = curies.normalise_xref(str(o) if is_literal else curies.iri_to_curie(str(o)))
            if xref:
                acc.xrefs.append(xref)
        elif p == curies.SEMANTIC_TYPE:
            acc.types.append(str(o))
        elif p in _FEATURES:
            acc.features.append((_FEATURES[p], curies.iri_to_curie(str(o))))

    def concepts(self) -> dict[str, _Acc]:
        """The subjects that are concepts: classes or labelled resources, not ontologies or properties."""
        return {iri: a for iri, a in self._acc.items() if (a.is_class or a.label) and not a.excluded}

    def write(self, path: Path, sources: list[tuple[OntologySource, SourceCounts]]) -> int:
        """Write the store to ``path`` atomically (a temporary file renamed over it); returns the concept count."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tables, per_source = self._tables()
        db = sqlite3.connect(tmp)
        try:
            db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
            db.executemany("INSERT OR REPLACE INTO concepts VALUES (?,?,?,?,?,?,?,?)", tables["concepts"])
            db.executemany("INSERT INTO synonyms VALUES (?,?,?)", tables["synonyms"])
            db.executemany("INSERT INTO parents VALUES (?,?)", tables["parents"])
            db.executemany("INSERT INTO xrefs VALUES (?,?)", tables["xrefs"])
            db.executemany("INSERT INTO features VALUES (?,?,?)", tables["features"])
            for source, counts in sources:
                counts.concepts = per_source.get(counts.name, 0)
                db.execute("INSERT OR REPLACE INTO ontologies VALUES (?,?,?,?,?,?,?,?,?)",
                           (counts.name, counts.version, counts.format, str(source.path), source.licence,
                            source.attribution, counts.triples, counts.concepts, counts.errors))
            db.executemany("INSERT INTO meta VALUES (?,?)", [("schema_version", SCHEMA_VERSION),
                                                             ("built_at", time.strftime("%Y-%m-%dT%H:%M:%S"))])
            db.executescript(INDEXES)
            db.commit()
        finally:
            db.close()
        os.replace(tmp, path)
        return len(tables["concepts"])

    def _tables(self) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, int]]:
        """Rows of every table, and the number of concepts per source."""
        tables: dict[str, list[tuple[Any, ...]]] = {n: [] for n in ("concepts", "synonyms", "parents", "xrefs",
                                                                    "features")}
        per_source: dict[str, int] = {}
        for iri, a in self.concepts().items():
            curie = curies.iri_to_curie(iri)
            per_source[a.source or ""] = per_source.get(a.source or "", 0) + 1
            tables["concepts"].append((curie, iri, a.label, a.definition, a.source, a.version,
                                       "; ".join(dict.fromkeys(a.types)) or None, a.triples))
            seen = {(a.label or "").lower()}
            for text, scope in a.synonyms:
                if text.lower() not in seen:
                    seen.add(text.lower())
                    tables["synonyms"].append((curie, text, scope))
            tables["parents"].extend((curie, p) for p in dict.fromkeys(a.parents))
            tables["xrefs"].extend((curie, x) for x in dict.fromkeys(a.xrefs) if x != curie)
            tables["features"].extend((curie, kind, target) for kind, target in dict.fromkeys(a.features))
        return tables, per_source


def build_concept_store(sources: Iterable[OntologySource], path: str | Path, on_error: OnError | None = None,
                        progress: Callable[[str, int, int | None], None] | None = None) -> OntologyReport:
    """Load every source, fold its triples into concepts and write the SQLite store at ``path``.

    A bad record is reported (file and line) through ``on_error`` and in ``report.errors``; the rest of
    the file still loads. A file that cannot be read at all is recorded in ``report.errors`` too, and the
    other sources still load. The store is written to a temporary file and renamed, so a failed build
    never damages a store that already exists.

    Args:
        sources: the ontology files to load.
        path: the store file, e.g. ``indexes/<name>/concepts.sqlite``.
        on_error: called with each ``RecordError`` as it happens.
        progress: ``progress("concepts", advance, total)``: the source count first, then one per source.

    Returns:
        ``OntologyReport`` with counts per source and every error.

    Raises:
        OntologyError: no source could be loaded at all.
    """
    started = time.perf_counter()
    report = OntologyReport(path=str(path))
    builder = ConceptBuilder()
    done: list[tuple[OntologySource, SourceCounts]] = []
    sources = list(sources)
    if progress is not None:
        progress("concepts", 0, len(sources))

    def record(error: RecordError) -> None:
        report.errors.append(error)
        if on_error is not None:
            on_error(error)

    for source in sources:
        t0 = time.perf_counter()
        loader = get_loader(str(source.format))
        before = len(report.errors)
        counts = SourceCounts(name=str(source.name), format=str(source.format), version=source.version)
        try:
            for triple in loader.load(source, record):
                builder.add(triple)
                counts.triples += 1
        except OntologyError as exc:
            location = exc.location or str(source.path)
            record(RecordError(location=location, message=str(exc).removeprefix(f"{location}: ")))
        except OSError as exc:  # a file that breaks off while read (a truncated .gz)
            record(RecordError(location=str(source.path), message=f"cannot read: {exc}"))
        counts.version = source.version
        counts.errors = len(report.errors) - before
        counts.loader = dict(getattr(loader, "stats", {}))
        counts.seconds = round(time.perf_counter() - t0, 3)
        report.sources.append(counts)
        report.triples += counts.triples
        done.append((source, counts))
        if progress is not None:
            progress("concepts", 1, None)
    if report.triples == 0:
        raise OntologyError(f"no triples loaded from {len(done)} source(s): {[str(e) for e in report.errors][:3]}")
    report.concepts = builder.write(Path(path), done)
    report.seconds = round(time.perf_counter() - started, 3)
    return report
