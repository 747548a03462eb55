"""The loader interface: one loader per ontology format, each streaming normalised triples.

Every loader yields ``Triple`` objects: rdflib terms ``(subject, predicate, object)`` with the name and
version of the ontology they come from. A bad record (a broken OBO stanza, an RRF row with the wrong
number of columns) is reported through ``on_error`` naming the file and line, and skipped; the rest of
the file still loads. A file that cannot be read at all raises ``OntologyError`` naming the file.
"""

from __future__ import annotations

import gzip
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, cast, runtime_checkable

from ragmed.errors import OntologyError
from ragmed.types import RecordError

OnError = Callable[[RecordError], None]


class Triple(NamedTuple):
    """One statement with its provenance; ``triple[:3]`` is the plain rdflib triple."""

    subject: Any
    predicate: Any
    object: Any
    source: str
    version: str | None

    @property
    def spo(self) -> tuple[Any, Any, Any]:
        """The ``(subject, predicate, object)`` rdflib terms."""
        return (self.subject, self.predicate, self.object)


@dataclass
class OntologySource:
    """One ontology file (or release folder) to load.

    Example:
        >>> OntologySource(Path("doid.obo"), name="disease-ontology", licence="CC0-1.0")

    Args:
        path: the file, or the folder of a UMLS (``META``) or SNOMED CT RF2 (``Snapshot``) release.
        format: one of ``FORMATS``; None detects it from the path.
        name: short ontology name used in citations (``disease-ontology``); defaults to the file stem.
        version: release version; None reads it from the file where the format carries one.
        licence: licence of the content, carried onto concept cards.
        attribution: text a licence asks to display (HPO asks for one).
        options: format options, e.g. ``{"languages": ["ENG"], "suppress": ["O", "E", "Y"]}`` for UMLS.
    """

    path: Path
    format: str | None = None
    name: str | None = None
    version: str | None = None
    licence: str | None = None
    attribution: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.format is None:
            self.format = detect_format(self.path)
        if self.format not in FORMATS:
            raise OntologyError(f"unknown ontology format {self.format!r}; expected one of {sorted(FORMATS)}",
                                location=str(self.path))
        if not self.name:
            self.name = self.path.name.split(".")[0]


@runtime_checkable
class OntologyLoader(Protocol):
    """Streams the triples of one format."""

    format: str

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        ...


FORMATS: dict[str, str] = {
    "obo": "ragmed.ontology.obo:OboLoader",
    "rdfxml": "ragmed.ontology.rdf:RdfLoader",
    "turtle": "ragmed.ontology.rdf:RdfLoader",
    "nt": "ragmed.ontology.rdf:RdfLoader",
    "json-ld": "ragmed.ontology.rdf:RdfLoader",
    "umls": "ragmed.ontology.umls:UmlsLoader",
    "rf2": "ragmed.ontology.snomed:Rf2Loader",
    "icd10cm": "ragmed.ontology.icd10cm:Icd10cmLoader",
    "hpoa": "ragmed.ontology.hpoa:HpoaLoader",
    "do-symptoms": "ragmed.ontology.symptoms:SymptomLoader",
}
"""Format name -> loader class (imported on first use, so lookups never import rdflib)."""

_SUFFIXES = {".obo": "obo", ".owl": "rdfxml", ".rdf": "rdfxml", ".ttl": "turtle", ".nt": "nt",
             ".jsonld": "json-ld", ".json-ld": "json-ld", ".hpoa": "hpoa", ".tsv": "do-symptoms"}


def detect_format(path: Path) -> str:
    """Guess the format of ``path`` from its name, or its first bytes for ``.xml`` files.

    Raises:
        OntologyError: the format cannot be told.
    """
    if path.is_dir():
        if (path / "MRCONSO.RRF").exists():
            return "umls"
        if any(path.rglob("sct2_Concept_*")):
            return "rf2"
        raise OntologyError("folder holds neither MRCONSO.RRF nor sct2_Concept_* files", location=str(path))
    name = path.name.lower().removesuffix(".gz")
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix == ".xml":
        with open(path, "rb") as handle:
            head = handle.read(2048)
        return "icd10cm" if b"ICD10CM.tabular" in head else "rdfxml"
    raise OntologyError(f"cannot tell the ontology format from the name {path.name!r}; pass format=",
                        location=str(path))


def get_loader(fmt: str) -> OntologyLoader:
    """Return a loader for format ``fmt`` (importing its module on first use).

    Raises:
        OntologyError: no loader handles ``fmt``.
    """
    if fmt not in FORMATS:
        raise OntologyError(f"unknown ontology format {fmt!r}; expected one of {sorted(FORMATS)}")
    module_name, cls_name = FORMATS[fmt].split(":")
    loader: OntologyLoader = getattr(importlib.import_module(module_name), cls_name)()
    return loader


def load(source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
    """Stream the triples of ``source`` with the loader of its format."""
    return get_loader(str(source.format)).load(source, on_error)


def report(on_error: OnError | None, location: str, message: str) -> None:
    """Send one bad record to ``on_error``, or raise ``OntologyError`` when there is no callback."""
    if on_error is None:
        raise OntologyError(message, location=location)
    on_error(RecordError(location=location, message=message))


def open_file(path: Path, what: str, text: bool = False) -> IO[Any]:
    """Open ``path`` for reading (gunzipped when it ends in ``.gz``; text as UTF-8).

    Raises:
        OntologyError: the file cannot be opened; the message names it.
    """
    try:
        if path.suffix == ".gz":
            return cast(IO[Any], gzip.open(path, "rt", encoding="utf-8", newline="") if text else gzip.open(path, "rb"))
        return open(path, encoding="utf-8", newline="") if text else open(path, "rb")
    except OSError as exc:
        raise OntologyError(f"cannot open {what}: {exc}", location=str(path)) from exc
