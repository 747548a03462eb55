"""Disease Ontology ``disease-symptom.tsv`` (reports): disease -> symptom links.

Columns ``disease_id, disease_label, symptom_id, symptom_label``. Each row gives
``DOID:... ragmed:hasSymptom SYMP:...``; each symptom gets one ``rdfs:label``. Disease labels are
left to the ontology itself. A row with the wrong number of columns is reported and skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import HAS_SYMPTOM, LABEL, TripleFactory, iri

COLUMNS = ["disease_id", "disease_label", "symptom_id", "symptom_label"]


class SymptomLoader:
    """Streams disease -> symptom triples from a DO ``disease-symptom.tsv``."""

    format = "do-symptoms"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"links": 0, "symptoms": 0, "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield the symptom links of ``source.path``.

        Raises:
            OntologyError: the file cannot be opened or its header is not the expected one.
        """
        path = source.path
        make = TripleFactory(str(source.name), source.version)
        labelled: set[str] = set()
        with open_file(path, "symptom table", text=True) as handle:
            rows = csv.reader(handle, delimiter="\t")
            header = next(rows, [])
            if header != COLUMNS:
                raise OntologyError(f"expected columns {COLUMNS}, found {header}", location=f"{path}:1")
            for lineno, row in enumerate(rows, 2):
                if not row:
                    continue
                if len(row) != len(COLUMNS) or not row[0] or not row[2]:
                    self.stats["broken"] += 1
                    report(on_error, f"{path}:{lineno}", f"expected 4 non-empty ids in 4 columns, got {row}")
                    continue
                self.stats["links"] += 1
                yield make(iri(row[0]), HAS_SYMPTOM, iri(row[2]))
                if row[2] not in labelled:
                    labelled.add(row[2])
                    self.stats["symptoms"] += 1
                    yield make.literal(iri(row[2]), LABEL, row[3])
