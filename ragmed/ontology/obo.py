"""OBO 1.2/1.4 flat files (Disease Ontology, HPO): a streaming reader of ``[Term]`` stanzas.

Each live term becomes ``rdf:type owl:Class``, ``rdfs:label`` (name), ``obo:IAO_0000115`` (def),
``oboInOwl:has{Exact,Related,Narrow,Broad}Synonym``, ``oboInOwl:hasDbXref`` (xref, as written),
``rdfs:subClassOf`` (is_a), ``oboInOwl:hasAlternativeId``, ``oboInOwl:inSubset``, ``rdfs:comment``,
and one triple per ``property_value`` and ``relationship``. Obsolete terms are skipped. A broken
stanza is reported with the file and line and skipped; the rest of the file loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rdflib import Literal, URIRef

from ragmed.ontology import curies
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import (
    ALT_ID,
    COMMENT,
    DEFINITION,
    HAS_DBXREF,
    IN_SUBSET,
    LABEL,
    OWL_CLASS,
    OWL_ONTOLOGY,
    SUBCLASS_OF,
    SYNONYM,
    TYPE,
    VERSION_INFO,
    TripleFactory,
    iri,
)

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"\s*(.*)$')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "W": " "}
_SCOPES = {"EXACT": "exact", "RELATED": "related", "NARROW": "narrow", "BROAD": "broad"}
_OLD_SYNONYM_TAGS = {"exact_synonym": "EXACT", "related_synonym": "RELATED", "narrow_synonym": "NARROW",
                     "broad_synonym": "BROAD"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BARE_NAMES = {"exactMatch": curies.SKOS, "closeMatch": curies.SKOS, "broadMatch": curies.SKOS,
               "narrowMatch": curies.SKOS, "relatedMatch": curies.SKOS}


class _BrokenStanza(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _strip_unquoted(value: str) -> str:
    """Drop a trailing ``{modifiers}`` block and an ``! comment`` from an unquoted value."""
    if "!" in value:
        value = re.split(r"(?<!\\)\s!", " " + value, maxsplit=1)[0][1:]
    if value.endswith("}") and "{" in value:
        value = value[: value.rindex("{")]
    return value.strip()


class OboLoader:
    """Streams the triples of an OBO file (plain or ``.gz``)."""

    format = "obo"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"terms": 0, "obsolete": 0, "broken": 0}
        self._idspaces: dict[str, str] = {}
        self._ontology = "obo"

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the triples of ``source.path``.

        Raises:
            OntologyError: the file cannot be opened (or a stanza is broken and ``on_error`` is None).
        """
        path = source.path
        with open_file(path, "OBO file") as handle:
            yield from self._read(handle, source, on_error)

    def _read(self, handle: IO[bytes], source: OntologySource, on_error: OnError | None) -> Iterator[Triple]:
        path = source.path
        header: list[tuple[int, str, str]] = []
        stanza: list[tuple[int, str, str]] = []
        kind: str | None = None
        start = 0
        make: TripleFactory | None = None
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                if kind == "Term":
                    self.stats["broken"] += 1
                    kind = "broken"
                report(on_error, f"{path}:{lineno}", f"line is not UTF-8: {exc}")
                continue
            if not line or line.startswith("!"):
                continue
            if line.startswith("["):
                if make is None:
                    make = self._header(header, source)
                    yield from self._ontology_triples(make)
                if kind == "Term":
                    yield from self._emit(stanza, start, make, path, on_error)
                stanza = []
                start = lineno
                if not line.endswith("]"):
                    report(on_error, f"{path}:{lineno}", f"malformed stanza header {line!r}")
                    self.stats["broken"] += 1
                    kind = "broken"
                else:
                    kind = line[1:-1].strip()
                continue
            tag, sep, value = line.partition(":")
            if make is None:
                if sep:
                    header.append((lineno, tag.strip(), value.strip()))
                continue
            if kind != "Term":
                continue
            if not sep:
                stanza.append((lineno, "", line))
            else:
                stanza.append((lineno, tag.strip(), value.strip()))
        if make is None:
            make = self._header(header, source)
            yield from self._ontology_triples(make)
        if kind == "Term":
            yield from self._emit(stanza, start, make, path, on_error)

    def _header(self, header: list[tuple[int, str, str]], source: OntologySource) -> TripleFactory:
        version = source.version
        for _, tag, value in header:
            if tag == "ontology":
                self._ontology = value
            elif tag == "idspace":
                parts = value.split()
                if len(parts) >= 2:
                    self._idspaces[parts[0]] = parts[1]
            elif tag == "property_value" and value.startswith("owl:versionInfo") and version is None:
                match = _QUOTED.search(value)
                version = match.group(1) if match else version
        if version is None:
            for _, tag, value in header:
                if tag == "data-version":
                    date = _DATE.search(value)
                    version = date.group(0) if date else value
        source.version = version
        return TripleFactory(str(source.name), version)

    def _ontology_triples(self, make: TripleFactory) -> Iterator[Triple]:
        onto = URIRef(f"{curies.OBO}{self._ontology.removesuffix('.obo')}.owl")
        yield make(onto, TYPE, OWL_ONTOLOGY)
        if make.version:
            yield make.literal(onto, VERSION_INFO, make.version)

    def _emit(self, stanza: list[tuple[int, str, str]], start: int, make: TripleFactory, path: Path,
              on_error: OnError | None) -> Iterator[Triple]:
        try:
            triples = self._term(stanza, start, make)
        except _BrokenStanza as exc:
            self.stats["broken"] += 1
            report(on_error, f"{path}:{exc.line}", f"broken [Term] stanza starting at line {start}: {exc}")
            return
        if triples is None:
            self.stats["obsolete"] += 1
            return
        self.stats["terms"] += 1
        yield from triples

    def _term(self, stanza: list[tuple[int, str, str]], start: int, make: TripleFactory) -> list[Triple] | None:
        ids = [(n, v) for n, t, v in stanza if t == "id"]
        if len(ids) != 1:
            raise _BrokenStanza(start, f"expected one 'id' tag, found {len(ids)}")
        term_id = _strip_unquoted(ids[0][1])
        if not term_id or " " in term_id:
            raise _BrokenStanza(ids[0][0], f"invalid id {ids[0][1]!r}")
        subject = iri(term_id)
        out = [make(subject, TYPE, OWL_CLASS)]
        names = 0
        for lineno, tag, value in stanza:
            if not tag:
                raise _BrokenStanza(lineno, f"line is not 'tag: value': {value!r}")
            if tag == "is_obsolete":
                if _strip_unquoted(value) == "true":
                    return None
            elif tag == "name":
                names += 1
                if names > 1:
                    raise _BrokenStanza(lineno, "second 'name' tag in one term")
                out.append(make.literal(subject, LABEL, _unescape(_strip_unquoted(value))))
            elif tag == "def":
                text, _ = _quoted(value, lineno, tag)
                out.append(make.literal(subject, DEFINITION, text))
            elif tag == "synonym" or tag in _OLD_SYNONYM_TAGS:
                text, rest = _quoted(value, lineno, tag)
                scope = _OLD_SYNONYM_TAGS.get(tag) or (rest.split()[0] if rest and rest[0] != "[" else "RELATED")
                if scope not in _SCOPES:
                    raise _BrokenStanza(lineno, f"synonym scope must be EXACT, RELATED, NARROW or BROAD, got {scope!r}")
                out.append(make.literal(subject, SYNONYM[_SCOPES[scope]], text))
            elif tag == "xref":
                ref = _unescape(_strip_unquoted(value).split(" ", 1)[0])
                if ref:
                    out.append(make.literal(subject, HAS_DBXREF, ref))
            elif tag == "is_a":
                out.append(make(subject, SUBCLASS_OF, iri(_strip_unquoted(value).split()[0])))
            elif tag == "alt_id":
                out.append(make.literal(subject, ALT_ID, _strip_unquoted(value)))
            elif tag == "subset":
                out.append(make.literal(subject, IN_SUBSET, _strip_unquoted(value)))
            elif tag == "comment":
                out.append(make.literal(subject, COMMENT, _unescape(value)))
            elif tag == "property_value":
                out.append(self._property_value(subject, value, lineno, make))
            elif tag == "relationship":
                parts = _strip_unquoted(value).split()
                if len(parts) < 2:
                    raise _BrokenStanza(lineno, f"relationship needs a relation and a target, got {value!r}")
                out.append(make(subject, self._relation(parts[0]), iri(parts[1])))
        return out

    def _relation(self, name: str) -> URIRef:
        if name.startswith(("http://", "https://")):
            return URIRef(name)
        if name in _BARE_NAMES:
            return URIRef(_BARE_NAMES[name] + name)
        prefix, local = curies.split_curie(name)
        if prefix in self._idspaces:
            return URIRef(self._idspaces[prefix] + local)
        if prefix:
            return URIRef(curies.curie_to_iri(name))
        return URIRef(f"{curies.OBO}{self._ontology.removesuffix('.obo')}#{name}")

    def _property_value(self, subject: URIRef, value: str, lineno: int, make: TripleFactory) -> Triple:
        relation, _, rest = value.partition(" ")
        rest = rest.strip()
        if not relation or not rest:
            raise _BrokenStanza(lineno, f"property_value needs a relation and a value, got {value!r}")
        if rest.startswith('"'):
            text, datatype = _quoted(rest, lineno, "property_value")
            datatype = _strip_unquoted(datatype)
            if datatype and datatype != "xsd:string":
                return make(subject, self._relation(relation), Literal(text, datatype=self._relation(datatype)))
            return make.literal(subject, self._relation(relation), text)
        return make(subject, self._relation(relation), self._relation(_strip_unquoted(rest).split()[0]))


def _quoted(value: str, lineno: int, tag: str) -> tuple[str, str]:
    match = _QUOTED.match(value)
    if not match:
        raise _BrokenStanza(lineno, f"{tag} must start with a quoted string, got {value[:60]!r}")
    return _unescape(match.group(1)), match.group(2)
