"""ICD-10-CM tabular list XML (the official ``ICD10CM.tabular`` file), read with expat as a stream.

Every ``diag`` becomes ``ICD10CM:<code>`` with ``rdfs:label`` (desc), ``skos:notation`` (the code),
``oboInOwl:hasRelatedSynonym`` for each ``inclusionTerm`` and ``includes`` note, and
``rdfs:subClassOf`` its enclosing ``diag`` or, at the top, its ``section`` (``ICD10CM:E08-E13``), which
is a concept too (a block of one category, such as ``B20``, is that category). A ``diag`` without a
code is reported with its line; malformed XML stops the file with an error naming the line (what came
before it has been yielded).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field

from rdflib import Literal

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import (
    LABEL,
    NOTATION,
    OWL_CLASS,
    SUBCLASS_OF,
    SYNONYM,
    TYPE,
    TripleFactory,
    iri,
)

_RANGE_SUFFIX = re.compile(r"\s*\([A-Z0-9.\-]+\)\s*$")
_SYNONYM_PARENTS = {"inclusionTerm", "includes"}


@dataclass
class _Node:
    tag: str
    line: int
    code: str | None = None
    desc: str | None = None
    synonyms: list[str] = field(default_factory=list)


class Icd10cmLoader:
    """Streams the triples of an ICD-10-CM tabular XML file."""

    format = "icd10cm"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"codes": 0, "sections": 0, "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the triples of ``source.path``.

        Raises:
            OntologyError: the file cannot be opened or is not well-formed XML.
        """
        path = source.path
        out: list[Triple] = []
        stack: list[_Node] = []
        text: list[str] = []
        state = {"version": source.version}
        make = TripleFactory(str(source.name), source.version)
        parser = xml.parsers.expat.ParserCreate()

        def start(tag: str, attrs: dict[str, str]) -> None:
            text.clear()
            if tag in ("diag", "section"):
                stack.append(_Node(tag, parser.CurrentLineNumber, code=attrs.get("id")))
            elif tag in _SYNONYM_PARENTS and stack:
                stack.append(_Node(tag, parser.CurrentLineNumber))

        def end(tag: str) -> None:
            value = "".join(text).strip()
            text.clear()
            node = stack[-1] if stack else None
            if tag == "version" and not stack and state["version"] is None:
                state["version"] = value
                make.version = value
            elif node is None:
                return
            elif tag == "name" and node.tag == "diag":
                node.code = value
            elif tag == "desc" and node.tag in ("diag", "section") and node.desc is None:
                node.desc = value
            elif tag == "note" and node.tag in _SYNONYM_PARENTS:
                stack[-2].synonyms.append(value)
            elif tag == node.tag:
                stack.pop()
                if tag in ("diag", "section"):
                    self._emit(node, stack, make, out, on_error, str(path))

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text.append
        with open_file(path, "ICD-10-CM file") as handle:
            while chunk := handle.read(1 << 16):
                try:
                    parser.Parse(chunk, False)
                except xml.parsers.expat.ExpatError as exc:
                    raise OntologyError(f"invalid XML: {xml.parsers.expat.ErrorString(exc.code)}",
                                        location=f"{path}:{exc.lineno}") from exc
                yield from out
                out.clear()
            parser.Parse(b"", True)
            yield from out
        source.version = state["version"]

    def _emit(self, node: _Node, stack: list[_Node], make: TripleFactory, out: list[Triple],
              on_error: OnError | None, path: str) -> None:
        if not node.code:
            self.stats["broken"] += 1
            report(on_error, f"{path}:{node.line}", f"<{node.tag}> without a code")
            return
        if node.tag == "section" and "-" not in node.code:
            return  # a one-category block (B20) is the category itself
        subject = iri(f"ICD10CM:{node.code}")
        out.append(make(subject, TYPE, OWL_CLASS))
        out.append(make(subject, NOTATION, Literal(node.code)))
        if node.desc:
            label = _RANGE_SUFFIX.sub("", node.desc) if node.tag == "section" else node.desc
            out.append(make.literal(subject, LABEL, label))
        for synonym in dict.fromkeys(node.synonyms):
            out.append(make.literal(subject, SYNONYM["related"], synonym))
        parent = next((n for n in reversed(stack) if n.tag in ("diag", "section")), None)
        if parent is not None and parent.code and parent.code != node.code:
            out.append(make(subject, SUBCLASS_OF, iri(f"ICD10CM:{parent.code}")))
        self.stats["codes" if node.tag == "diag" else "sections"] += 1
