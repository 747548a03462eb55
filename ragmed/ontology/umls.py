"""UMLS Metathesaurus RRF files (MRCONSO, MRREL, MRSTY, MRDEF), streamed row by row.

Options (``OntologySource.options``): ``languages`` (default ``["ENG"]``) keeps the MRCONSO atoms of
those ``LAT`` values; ``suppress`` (default ``["O", "E", "Y"]``) drops rows whose
``SUPPRESS`` column holds one of those flags. Concepts are ``UMLS:<CUI>``; each atom's source code
becomes a cross-reference (``MSH`` -> ``MESH:D012711``, ``SNOMEDCT_US`` -> ``SNOMEDCT:...``). A row
with the wrong number of columns is reported with its file and line and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import (
    DEFINITION,
    HAS_DBXREF,
    LABEL,
    OWL_CLASS,
    SEMANTIC_TYPE,
    SUBCLASS_OF,
    SYNONYM,
    TYPE,
    TripleFactory,
    iri,
    ragmed_predicate,
)

COLUMNS = {
    "MRCONSO.RRF": ["CUI", "LAT", "TS", "LUI", "STT", "SUI", "ISPREF", "AUI", "SAUI", "SCUI", "SDUI", "SAB", "TTY",
                    "CODE", "STR", "SRL", "SUPPRESS", "CVF"],
    "MRREL.RRF": ["CUI1", "AUI1", "STYPE1", "REL", "CUI2", "AUI2", "STYPE2", "RELA", "RUI", "SRUI", "SAB", "SL", "RG",
                  "DIR", "SUPPRESS", "CVF"],
    "MRSTY.RRF": ["CUI", "TUI", "STN", "STY", "ATUI", "CVF"],
    "MRDEF.RRF": ["CUI", "AUI", "ATUI", "SATUI", "SAB", "DEF", "SUPPRESS", "CVF"],
}
"""Documented columns of each file (UMLS Reference Manual); rows end with a trailing ``|``."""


class UmlsLoader:
    """Streams a UMLS ``META`` folder (or any folder holding the four RRF files)."""

    format = "umls"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"concepts": 0, "atoms": 0, "relations": 0, "filtered": 0, "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the triples of the RRF files in ``source.path``.

        Raises:
            OntologyError: MRCONSO.RRF is missing, or a row is bad and ``on_error`` is None.
        """
        folder = source.path if source.path.is_dir() else source.path.parent
        if not (folder / "MRCONSO.RRF").exists():
            raise OntologyError("MRCONSO.RRF not found", location=str(folder))
        languages = set(source.options.get("languages", ["ENG"]))
        suppress = set(source.options.get("suppress", ["O", "E", "Y"]))
        make = TripleFactory(str(source.name), source.version)
        yield from self._conso(folder / "MRCONSO.RRF", make, languages, suppress, on_error)
        if (folder / "MRSTY.RRF").exists():
            for _, row in self._rows(folder / "MRSTY.RRF", on_error):
                yield make.literal(iri(f"UMLS:{row['CUI']}"), SEMANTIC_TYPE, row["STY"])
        if (folder / "MRDEF.RRF").exists():
            for _, row in self._rows(folder / "MRDEF.RRF", on_error):
                if row["SUPPRESS"] in suppress:
                    self.stats["filtered"] += 1
                    continue
                yield make.literal(iri(f"UMLS:{row['CUI']}"), DEFINITION, row["DEF"])
        if (folder / "MRREL.RRF").exists():
            yield from self._relations(folder / "MRREL.RRF", make, suppress, on_error)

    def _rows(self, path: Path, on_error: OnError | None) -> Iterator[tuple[int, dict[str, str]]]:
        names = COLUMNS[path.name]
        with open_file(path, "RRF file", text=True) as handle:
            for lineno, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                fields = line.split("|")
                if fields[-1] == "":
                    fields.pop()
                if len(fields) != len(names):
                    self.stats["broken"] += 1
                    report(on_error, f"{path}:{lineno}",
                           f"expected {len(names)} columns ({'|'.join(names)}), found {len(fields)}")
                    continue
                yield lineno, dict(zip(names, fields, strict=True))

    def _conso(self, path: Path, make: TripleFactory, languages: set[str], suppress: set[str],
               on_error: OnError | None) -> Iterator[Triple]:
        group: list[dict[str, str]] = []
        for _, row in self._rows(path, on_error):
            if row["LAT"] not in languages or row["SUPPRESS"] in suppress:
                self.stats["filtered"] += 1
                continue
            if group and row["CUI"] != group[0]["CUI"]:
                yield from self._concept(group, make)
                group = []
            group.append(row)
        if group:
            yield from self._concept(group, make)

    def _concept(self, atoms: list[dict[str, str]], make: TripleFactory) -> Iterator[Triple]:
        """Triples of the consecutive atoms of one CUI (MRCONSO is sorted by CUI)."""
        self.stats["concepts"] += 1
        self.stats["atoms"] += len(atoms)
        subject = iri(f"UMLS:{atoms[0]['CUI']}")
        best = min(atoms, key=lambda a: (a["TS"] != "P", a["STT"] != "PF", a["ISPREF"] != "Y"))
        yield make(subject, TYPE, OWL_CLASS)
        yield make.literal(subject, LABEL, best["STR"])
        seen = {best["STR"].lower()}
        codes: set[str] = set()
        for atom in atoms:
            if atom["STR"].lower() not in seen:
                seen.add(atom["STR"].lower())
                yield make.literal(subject, SYNONYM["exact"], atom["STR"])
            code = f"{atom['SAB']}:{atom['CODE']}"
            if atom["CODE"] and atom["CODE"] != "NOCODE" and code not in codes:
                codes.add(code)
                yield make.literal(subject, HAS_DBXREF, code)

    def _relations(self, path: Path, make: TripleFactory, suppress: set[str],
                   on_error: OnError | None) -> Iterator[Triple]:
        for _, row in self._rows(path, on_error):
            if row["SUPPRESS"] in suppress:
                self.stats["filtered"] += 1
                continue
            self.stats["relations"] += 1
            first, second = iri(f"UMLS:{row['CUI1']}"), iri(f"UMLS:{row['CUI2']}")
            # REL names the relation of the second concept to the first: PAR = CUI2 is a parent of CUI1.
            if row["REL"] == "PAR":
                yield make(first, SUBCLASS_OF, second)
            elif row["REL"] == "CHD":
                yield make(second, SUBCLASS_OF, first)
            else:
                yield make(second, ragmed_predicate(f"umls_{row['RELA'] or row['REL']}"), first)
