"""SNOMED CT RF2 snapshots: ``sct2_Concept``, ``sct2_Description`` (and ``sct2_TextDefinition``),
``sct2_Relationship``; active rows only.

A fully specified name gives ``ragmed:fullySpecifiedName``, ``rdfs:label`` (the FSN without its
semantic tag) and ``ragmed:semanticType`` (the tag, e.g. ``disorder``); synonyms give
``oboInOwl:hasExactSynonym``; ``116680003 |Is a|`` gives ``rdfs:subClassOf``; other attributes
are kept as predicates ``http://snomed.info/id/<typeId>``. Option ``languages`` (default ``["en"]``)
filters descriptions. A file with missing columns, or a row with the wrong number of fields, is
reported with its file and line; the other files and rows still load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import (
    DEFINITION,
    FULLY_SPECIFIED_NAME,
    LABEL,
    OWL_CLASS,
    SEMANTIC_TYPE,
    SUBCLASS_OF,
    SYNONYM,
    TYPE,
    TripleFactory,
    iri,
)

IS_A = "116680003"
FSN = "900000000000003001"
DEFINITION_TYPE = "900000000000550004"
REQUIRED = {
    "Concept": ["id", "effectiveTime", "active", "moduleId", "definitionStatusId"],
    "Description": ["id", "active", "conceptId", "languageCode", "typeId", "term"],
    "TextDefinition": ["id", "active", "conceptId", "languageCode", "typeId", "term"],
    "Relationship": ["id", "active", "sourceId", "destinationId", "typeId"],
}
_TAG = re.compile(r"^(.*\S)\s+\(([^()]+)\)$")


class Rf2Loader:
    """Streams an RF2 snapshot folder (searched recursively for ``sct2_*Snapshot*`` files)."""

    format = "rf2"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"concepts": 0, "descriptions": 0, "relationships": 0, "inactive": 0,
                                      "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the triples of the snapshot in ``source.path``.

        Raises:
            OntologyError: no concept file is found, or a file is bad and ``on_error`` is None.
        """
        folder = source.path
        files = {kind: sorted(folder.rglob(f"sct2_{kind}_*Snapshot*.txt")) for kind in REQUIRED}
        if not files["Concept"]:
            raise OntologyError("no sct2_Concept_*Snapshot*.txt file found", location=str(folder))
        version = source.version or _release_date(files["Concept"][0])
        source.version = version
        make = TripleFactory(str(source.name), version)
        languages = set(source.options.get("languages", ["en"]))
        active: set[str] = set()
        for path in files["Concept"]:
            for _, row in self._rows(path, "Concept", on_error):
                if row["active"] != "1":
                    self.stats["inactive"] += 1
                    continue
                active.add(row["id"])
                self.stats["concepts"] += 1
                yield make(iri(f"SNOMEDCT:{row['id']}"), TYPE, OWL_CLASS)
        for kind in ("Description", "TextDefinition"):
            for path in files[kind]:
                for _, row in self._rows(path, kind, on_error):
                    if row["active"] != "1" or row["conceptId"] not in active or row["languageCode"] not in languages:
                        self.stats["inactive"] += 1
                        continue
                    self.stats["descriptions"] += 1
                    yield from _description(make, row)
        for path in files["Relationship"]:
            for _, row in self._rows(path, "Relationship", on_error):
                if row["active"] != "1":
                    self.stats["inactive"] += 1
                    continue
                self.stats["relationships"] += 1
                predicate = SUBCLASS_OF if row["typeId"] == IS_A else iri(f"SNOMEDCT:{row['typeId']}")
                yield make(iri(f"SNOMEDCT:{row['sourceId']}"), predicate, iri(f"SNOMEDCT:{row['destinationId']}"))

    def _rows(self, path: Path, kind: str, on_error: OnError | None) -> Iterator[tuple[int, dict[str, str]]]:
        header: list[str] | None = None
        with open_file(path, "RF2 file", text=True) as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if header is None:
                    header = fields
                    missing = [c for c in REQUIRED[kind] if c not in header]
                    if missing:
                        self.stats["broken"] += 1
                        report(on_error, f"{path}:{lineno}",
                               f"RF2 {kind} header lacks column(s) {', '.join(missing)}; file skipped")
                        return
                    continue
                if len(fields) != len(header):
                    self.stats["broken"] += 1
                    report(on_error, f"{path}:{lineno}",
                           f"expected {len(header)} tab-separated fields, found {len(fields)}")
                    continue
                yield lineno, dict(zip(header, fields, strict=True))


def _description(make: TripleFactory, row: dict[str, str]) -> Iterator[Triple]:
    subject = iri(f"SNOMEDCT:{row['conceptId']}")
    term = row["term"]
    if row["typeId"] == FSN:
        yield make.literal(subject, FULLY_SPECIFIED_NAME, term)
        tagged = _TAG.match(term)
        yield make.literal(subject, LABEL, tagged.group(1) if tagged else term)
        if tagged:
            yield make.literal(subject, SEMANTIC_TYPE, tagged.group(2))
    elif row["typeId"] == DEFINITION_TYPE:
        yield make.literal(subject, DEFINITION, term)
    else:
        yield make.literal(subject, SYNONYM["exact"], term)


def _release_date(path: Path) -> str | None:
    match = re.search(r"_(\d{8})\.txt$", path.name)
    if not match:
        return None
    d = match.group(1)
    return f"{d[:4]}-{d[4:6]}-{d[6:]}"
