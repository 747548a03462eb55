"""The concept store: read-only SQLite lookups of concepts, synonyms, codes and cross-ontology merges.

Lookups use only ``sqlite3``; rdflib is never imported here.

Example:
    >>> store = ConceptStore("indexes/starter/concepts.sqlite")
    >>> store.merged("DOID:9352").codes["ICD10CM"]
    ['E11']
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ragmed.errors import OntologyError
from ragmed.ontology import curies
from ragmed.types import Concept

STRONG_XREFS = ("UMLS", "SNOMEDCT", "MESH")
"""Code systems whose sharing makes two concepts of different ontologies the same condition."""
CODE_ORDER = ("DOID", "ICD10CM", "MESH", "UMLS", "SNOMEDCT", "HP", "OMIM", "ORPHA", "NCIT")
MERGED_SYSTEMS = frozenset({"DOID", "ICD10CM", "MESH", "UMLS", "SNOMEDCT", "HP"})
"""Systems whose codes are taken over from equivalent concepts in a merged view."""


@dataclass
class OntologyInfo:
    """One loaded ontology: name, version, licence and what it contributed."""

    name: str
    version: str | None
    format: str | None
    licence: str | None
    attribution: str | None
    triples: int
    concepts: int


@dataclass
class ConceptRecord:
    """Everything the store holds about one concept (labels of parents and features resolved)."""

    curie: str
    label: str | None
    definition: str | None
    ontology: str
    version: str | None
    iri: str
    semantic_types: list[str] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    parents: list[tuple[str, str | None]] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    symptoms: list[tuple[str, str | None]] = field(default_factory=list)
    phenotypes: list[tuple[str, str | None]] = field(default_factory=list)
    triples: int = 0

    @property
    def name(self) -> str:
        """The label, or the CURIE when the concept has none."""
        return self.label or self.curie


class ConceptStore:
    """Read-only access to a ``concepts.sqlite`` file; safe to share between threads.

    Raises:
        OntologyError: the file does not exist or is not a concept store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise OntologyError("concept store not found (an index built with ontology sources has one)",
                                location=str(self.path))
        self._db = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self.closed = False
        try:
            self.built_at = self._one("SELECT value FROM meta WHERE key='built_at'")
        except sqlite3.DatabaseError as exc:
            raise OntologyError(f"not a concept store: {exc}", location=str(self.path)) from exc
        self.record = lru_cache(maxsize=4096)(self._record)  # type: ignore[method-assign]
        self._merged_cached = lru_cache(maxsize=4096)(self._merged)

    def close(self) -> None:
        """Close the database connection."""
        self.closed = True
        self._db.close()

    def __enter__(self) -> ConceptStore:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        rows = self._rows(sql, args)
        return rows[0][0] if rows else None

    def __len__(self) -> int:
        return int(self._one("SELECT count(*) FROM concepts") or 0)

    def __contains__(self, curie: object) -> bool:
        return bool(self._rows("SELECT 1 FROM concepts WHERE curie=?", (curie,)))

    def count(self, ontology: str | None = None) -> int:
        """Number of concepts, of one ontology when ``ontology`` is given."""
        if ontology is None:
            return len(self)
        return int(self._one("SELECT count(*) FROM concepts WHERE ontology=?", (ontology,)) or 0)

    def ontologies(self) -> list[OntologyInfo]:
        """The ontologies this store was built from."""
        return [OntologyInfo(*row) for row in self._rows(
            "SELECT name, version, format, licence, attribution, triples, concepts FROM ontologies ORDER BY name")]

    def curies(self, ontology: str | None = None, with_definition: bool = False) -> Iterator[str]:
        """CURIEs of all concepts, optionally of one ontology or only those with a definition."""
        sql = "SELECT curie FROM concepts WHERE 1=1"
        args: tuple[object, ...] = ()
        if ontology is not None:
            sql, args = sql + " AND ontology=?", (ontology,)
        if with_definition:
            sql += " AND definition IS NOT NULL"
        for (curie,) in self._rows(sql + " ORDER BY rowid", args):
            yield curie

    def descendants(self, roots: Iterable[str]) -> set[str]:
        """``roots`` and every concept below them (through ``rdfs:subClassOf``)."""
        found: set[str] = set()
        for root in roots:
            found.update(c for (c,) in self._rows(
                "WITH RECURSIVE below(c) AS (SELECT ? UNION "
                "SELECT p.curie FROM parents p JOIN below ON p.parent = below.c) SELECT c FROM below", (root,)))
        return found

    def ancestors(self, curie: str) -> set[str]:
        """``curie`` and every concept above it (through ``rdfs:subClassOf``)."""
        return {c for (c,) in self._rows(
            "WITH RECURSIVE above(c) AS (SELECT ? UNION "
            "SELECT p.parent FROM parents p JOIN above ON p.curie = above.c) SELECT c FROM above", (curie,))}

    def with_xref(self, xref: str) -> list[str]:
        """Concepts that cross-reference ``xref`` (e.g. ``UMLS:C0011860``), in CURIE order."""
        return sorted(c for (c,) in self._rows("SELECT DISTINCT curie FROM xrefs WHERE xref = ?", (xref,)))

    def siblings(self, curie: str, limit: int = 20) -> list[tuple[str, str]]:
        """``(curie, label)`` of the concepts that share a direct parent with ``curie``, itself excluded."""
        return [(c, label) for c, label in self._rows(
            "SELECT DISTINCT s.curie, c.label FROM parents p JOIN parents s ON s.parent = p.parent "
            "JOIN concepts c ON c.curie = s.curie WHERE p.curie = ? AND s.curie != ? AND c.label IS NOT NULL "
            "ORDER BY s.curie LIMIT ?", (curie, curie, limit))]

    def names(self) -> Iterator[tuple[str, str, str, str]]:
        """Every ``(curie, text, kind, ontology)`` usable for linking: kind is ``label`` or a synonym scope."""
        for row in self._rows("SELECT curie, label, 'label', ontology FROM concepts WHERE label IS NOT NULL"):
            yield row
        for row in self._rows("SELECT s.curie, s.text, s.scope, c.ontology FROM synonyms s "
                              "JOIN concepts c ON c.curie = s.curie"):
            yield row

    def _record(self, curie: str) -> ConceptRecord | None:
        rows = self._rows("SELECT curie, label, definition, ontology, version, iri, semantic_type, triples "
                          "FROM concepts WHERE curie=?", (curie,))
        if not rows:
            return None
        c, label, definition, ontology, version, iri, sem, triples = rows[0]
        record = ConceptRecord(c, label, definition, ontology or "", version, iri,
                               semantic_types=sem.split("; ") if sem else [], triples=triples or 0)
        for text, scope in self._rows("SELECT text, scope FROM synonyms WHERE curie=? ORDER BY rowid", (curie,)):
            record.synonyms.setdefault(scope, []).append(text)
        record.parents = self._labelled("SELECT p.parent, c.label FROM parents p LEFT JOIN concepts c "
                                        "ON c.curie = p.parent WHERE p.curie=? ORDER BY p.rowid", curie)
        record.xrefs = [x for (x,) in self._rows("SELECT xref FROM xrefs WHERE curie=? ORDER BY rowid", (curie,))]
        for kind, target, label in self._rows(
                "SELECT f.kind, f.target, c.label FROM features f LEFT JOIN concepts c ON c.curie = f.target "
                "WHERE f.curie=? ORDER BY f.rowid", (curie,)):
            (record.symptoms if kind == "symptom" else record.phenotypes).append((target, label))
        return record

    def _labelled(self, sql: str, curie: str) -> list[tuple[str, str | None]]:
        return [(a, b) for a, b in self._rows(sql, (curie,))]

    def record(self, curie: str) -> ConceptRecord | None:  # replaced by a cached wrapper in __init__
        """Everything stored about ``curie`` (cached; treat the result as read-only), or None."""
        return self._record(curie)

    def get(self, curie: str) -> Concept | None:
        """The concept as stored, its codes being its own CURIE and its cross-references."""
        record = self.record(curie)
        if record is None:
            return None
        return _to_concept(record, _codes([record.curie, *record.xrefs]))

    def equivalents(self, curie: str, limit: int = 20) -> list[tuple[str, int]]:
        """Concepts of other ontologies that are the same condition as ``curie``, strongest first.

        A concept is equivalent when one cross-references the other (score 2 + shared codes), or when
        both cross-reference the same UMLS CUI, SNOMED CT or MeSH code (score = shared codes). Concepts
        of ``curie``'s own ontology are never equivalents. Ties go to the closer label.
        """
        record = self.record(curie)
        if record is None:
            return []
        own_prefix = curies.split_curie(curie)[0]
        strong = [x for x in record.xrefs if curies.split_curie(x)[0] in STRONG_XREFS]
        scores: dict[str, int] = {}
        if strong:
            marks = ",".join("?" * len(strong))
            for (other,) in self._rows(f"SELECT curie FROM xrefs WHERE xref IN ({marks})", tuple(strong)):
                scores[other] = scores.get(other, 0) + 1
        direct = [x for x in record.xrefs if x in self] + [
            c for (c,) in self._rows("SELECT curie FROM xrefs WHERE xref=?", (curie,))]
        for other in direct:
            scores[other] = scores.get(other, 0) + 2
        words = set(record.name.lower().split())

        def closeness(other: str) -> float:
            other_record = self.record(other)
            other_words = set(other_record.name.lower().split()) if other_record else set()
            return len(words & other_words) / (len(words | other_words) or 1)

        ranked = sorted(((c, n) for c, n in scores.items() if curies.split_curie(c)[0] != own_prefix),
                        key=lambda kv: (-kv[1], -closeness(kv[0]), kv[0]))
        return ranked[:limit]

    def merged(self, curie: str) -> Concept | None:
        """One disease across ontologies: ``curie``'s own data, with the codes of its equivalents merged in.

        Example:
            >>> store.merged("DOID:9352").codes
            {'DOID': ['DOID:9352'], 'ICD10CM': ['E11'], 'MESH': ['D003924'], 'UMLS': ['C0011860'], ...}

        Returns:
            A new ``Concept`` (safe to modify), or None when ``curie`` is not in the store.
        """
        concept = self._merged_cached(curie)
        if concept is None:
            return None
        return replace(concept, codes={k: list(v) for k, v in concept.codes.items()},
                       synonyms=list(concept.synonyms))

    def _merged(self, curie: str) -> Concept | None:
        record = self.record(curie)
        if record is None:
            return None
        codes = [record.curie, *record.xrefs]
        best_of: set[str] = set()
        for other, _ in self.equivalents(curie):
            codes.append(other)
            prefix = curies.split_curie(other)[0]
            other_record = self.record(other)
            if other_record is not None and prefix not in best_of:
                best_of.add(prefix)
                codes.extend(x for x in other_record.xrefs if curies.split_curie(x)[0] in MERGED_SYSTEMS)
        return _to_concept(record, _codes(codes))

    def phenotypes_via_xrefs(self, curie: str, limit: int = 12) -> list[tuple[str, str | None, str]]:
        """Phenotypes annotated (HPOA) to the diseases that ``curie`` cross-references (OMIM, Orphanet),
        the most shared first, as ``(phenotype, label, annotated disease)``."""
        record = self.record(curie)
        if record is None:
            return []
        targets = [x for x in record.xrefs if curies.split_curie(x)[0] in ("OMIM", "ORPHA", "DECIPHER")]
        if not targets:
            return []
        marks = ",".join("?" * len(targets))
        rows = self._rows(
            f"SELECT f.target, c.label, count(*) AS n, min(f.curie) FROM features f "
            f"LEFT JOIN concepts c ON c.curie = f.target WHERE f.curie IN ({marks}) AND f.kind='phenotype' "
            f"GROUP BY f.target ORDER BY n DESC, f.target LIMIT ?", (*targets, limit))
        return [(target, label, disease) for target, label, _, disease in rows]


def _codes(ids: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for curie in ids:
        system, code = curies.code_of(curie)
        if system and code not in grouped.setdefault(system, []):
            grouped[system].append(code)
    first = next(iter(grouped), None)
    order = [first] + [s for s in CODE_ORDER if s != first] if first else list(CODE_ORDER)
    ordered = {s: grouped[s] for s in order if s in grouped}
    ordered.update({s: v for s, v in grouped.items() if s not in ordered})
    return ordered


def _to_concept(record: ConceptRecord, codes: dict[str, list[str]]) -> Concept:
    return Concept(curie=record.curie, label=record.name, codes=codes,
                   synonyms=list(record.synonyms.get("exact", [])), definition=record.definition,
                   source=record.ontology, version=record.version)
