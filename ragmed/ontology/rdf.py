"""OWL, RDF/XML, Turtle, N-Triples and JSON-LD through rdflib.

Triples are passed on as the file states them (``rdfs:label``, ``skos:prefLabel``/``altLabel``,
oboInOwl synonyms, ``rdfs:subClassOf`` ...); the concept store understands those vocabularies.
A syntax error in Turtle or N-Triples is reported with its file and line and the remaining statements
still load; RDF/XML and JSON-LD documents are all-or-nothing, so an error there names the file and line
and nothing of that file loads.
"""

from __future__ import annotations

import json
import re
import xml.sax
from collections.abc import Iterator

import rdflib
from rdflib.exceptions import ParserError
from rdflib.plugins.parsers.notation3 import BadSyntax

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, report
from ragmed.ontology.terms import OWL_ONTOLOGY, TYPE, VERSION_INFO

_RDFLIB_FORMATS = {"rdfxml": "xml", "turtle": "turtle", "nt": "nt", "json-ld": "json-ld"}
_DIRECTIVE = re.compile(r"^\s*(@prefix|@base|PREFIX|BASE)\b", re.IGNORECASE)
_PARSE_ERRORS = (BadSyntax, ParserError, xml.sax.SAXParseException, json.JSONDecodeError, ValueError)


class RdfLoader:
    """Parses one RDF document with rdflib and streams its triples."""

    format = "rdf"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"statements": 0, "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the triples of ``source.path``.

        Raises:
            OntologyError: the file cannot be read, or (RDF/XML, JSON-LD) is not well formed.
        """
        fmt = _RDFLIB_FORMATS[str(source.format)]
        path = source.path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise OntologyError(f"cannot read RDF file: {exc}", location=str(path)) from exc
        graph = rdflib.Graph()
        try:
            graph.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
        except _PARSE_ERRORS as exc:
            line = _error_line(exc)
            if fmt not in ("turtle", "nt"):
                raise OntologyError(f"invalid {source.format}: {_short(exc)}", location=f"{path}:{line}") from exc
            graph = self._recover(text, fmt, source, on_error)
        version = source.version or _version_of(graph)
        source.version = version
        name = str(source.name)
        self.stats["statements"] = len(graph)
        for s, p, o in graph:
            yield Triple(s, p, o, name, version)

    def _recover(self, text: str, fmt: str, source: OntologySource, on_error: OnError | None) -> rdflib.Graph:
        """Parse statement by statement, reporting each one that fails with its line."""
        graph = rdflib.Graph()
        preamble: list[str] = []
        base = source.path.resolve().as_uri()
        for start, chunk in _statements(text, fmt):
            if _DIRECTIVE.match(chunk):
                preamble.append(chunk)
                continue
            offset = sum(part.count("\n") + 1 for part in preamble)
            part = rdflib.Graph()
            try:
                part.parse(data="\n".join([*preamble, chunk]), format=fmt, publicID=base)
                graph += part
            except _PARSE_ERRORS as exc:
                self.stats["broken"] += 1
                relative = max(_error_line(exc) - offset, 1) if _error_line(exc) else 1
                report(on_error, f"{source.path}:{start + relative - 1}", f"invalid {source.format}: {_short(exc)}")
        return graph


def _statements(text: str, fmt: str) -> Iterator[tuple[int, str]]:
    """Split Turtle/N-Triples text into top-level statements with their first line numbers."""
    lines = text.split("\n")
    if fmt == "nt":
        for number, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, line
        return
    buffer: list[str] = []
    start, depth, long_quote = 1, 0, ""
    for number, line in enumerate(lines, 1):
        if not buffer:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = number
        buffer.append(line)
        depth, long_quote, ended = _scan(line, depth, long_quote)
        if ended or (_DIRECTIVE.match(line) and depth == 0 and not long_quote):
            yield start, "\n".join(buffer)
            buffer = []
    if buffer:
        yield start, "\n".join(buffer)


def _scan(line: str, depth: int, long_quote: str) -> tuple[int, str, bool]:
    """Track brackets and strings over one line; report whether a statement ends on it."""
    i, last = 0, ""
    while i < len(line):
        if long_quote:
            end = line.find(long_quote, i)
            if end < 0:
                return depth, long_quote, False
            i, long_quote, last = end + 3, "", '"'
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith(('"""', "'''"), i):
            long_quote, i = line[i:i + 3], i + 3
            continue
        if ch in "\"'":
            i += 1
            while i < len(line) and line[i] != ch:
                i += 2 if line[i] == "\\" else 1
        elif ch == "<":
            close = line.find(">", i)
            i = close if close > 0 else i
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if not ch.isspace():
            last = ch
        i += 1
    return depth, long_quote, depth <= 0 and last == "." and not long_quote


def _version_of(graph: rdflib.Graph) -> str | None:
    for onto in graph.subjects(TYPE, OWL_ONTOLOGY):
        for value in graph.objects(onto, VERSION_INFO):
            return str(value)
    return None


def _error_line(exc: BaseException) -> int:
    if isinstance(exc, xml.sax.SAXParseException):
        return int(exc.getLineNumber() or 0)
    if isinstance(exc, json.JSONDecodeError):
        return exc.lineno
    if isinstance(exc, BadSyntax):
        return int(exc.lines) + 1
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else 0


def _short(exc: BaseException) -> str:
    if isinstance(exc, BadSyntax):
        return str(exc._why)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

