"""Write triples out as Turtle or N-Triples through rdflib."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import rdflib

from ragmed.errors import OntologyError
from ragmed.ontology import curies

EXPORT_FORMATS = {"ttl": "turtle", "turtle": "turtle", "nt": "nt", "ntriples": "nt"}
_NT_BATCH = 50_000


def export(triples: Iterable[Any], path: str | Path, format: str = "ttl") -> int:
    """Serialise ``triples`` (``Triple`` objects or plain ``(s, p, o)`` rdflib tuples) to ``path``.

    Turtle is written from one graph; N-Triples is written in batches, so memory stays flat.
    Duplicate triples are written once.

    Example:
        >>> export(load(OntologySource(Path("doid.obo"))), "doid.nt", format="nt")

    Args:
        triples: the statements to write.
        path: output file (its folder is created).
        format: ``ttl`` or ``nt``.

    Returns:
        The number of distinct triples written (per batch for ``nt``: duplicates across batches of
        50,000 are written twice, which N-Triples readers collapse).

    Raises:
        OntologyError: an unknown format or a file that cannot be written.
    """
    fmt = EXPORT_FORMATS.get(format.lower())
    if fmt is None:
        raise OntologyError(f"export format must be 'ttl' or 'nt', got {format!r}")
    out = Path(path)
    spo = ((t[0], t[1], t[2]) for t in triples)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "turtle":
            graph = _graph()
            for triple in spo:
                graph.add(triple)
            graph.serialize(destination=str(out), format="turtle", encoding="utf-8")
            return len(graph)
        written = 0
        with open(out, "wb") as handle:
            while batch := list(islice(spo, _NT_BATCH)):
                graph = _graph()
                for triple in batch:
                    graph.add(triple)
                handle.write(graph.serialize(format="nt", encoding="utf-8"))
                written += len(graph)
        return written
    except OSError as exc:
        raise OntologyError(f"cannot write triples: {exc}", location=str(out)) from exc


def _graph() -> rdflib.Graph:
    graph = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in curies.NAMESPACES.items():
        graph.bind(prefix, rdflib.Namespace(namespace))
    for prefix, namespace in curies.PREFIX_IRIS.items():
        graph.bind(prefix.lower(), rdflib.Namespace(namespace))
    return graph
