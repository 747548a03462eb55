"""HPO disease -> phenotype annotations (``phenotype.hpoa``, plain or gzipped), aggregated per disease.

Each disease (``OMIM:``, ``ORPHA:``, ``DECIPHER:``) gets one ``rdfs:label`` and one
``ragmed:hasPhenotype`` per distinct phenotype (aspect ``P``, qualifier not ``NOT``). A row with the
wrong number of columns is reported with its file and line and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from ragmed.errors import OntologyError
from ragmed.ontology.base import OnError, OntologySource, Triple, open_file, report
from ragmed.ontology.terms import HAS_PHENOTYPE, LABEL, TripleFactory, iri

COLUMNS = ["database_id", "disease_name", "qualifier", "hpo_id", "reference", "evidence", "onset", "frequency",
           "sex", "modifier", "aspect", "biocuration"]


class HpoaLoader:
    """Streams disease -> phenotype triples from an HPOA file."""

    format = "hpoa"

    def __init__(self) -> None:
        self.stats: dict[str, int] = {"annotations": 0, "diseases": 0, "skipped": 0, "broken": 0}

    def load(self, source: OntologySource, on_error: OnError | None = None) -> Iterator[Triple]:
        """Yield one label and the phenotypes of every disease in ``source.path``.

        Raises:
            OntologyError: the file cannot be opened, or its column header is not the HPOA one.
        """
        path = source.path
        handle = open_file(path, "HPOA file", text=True)
        names: dict[str, str] = {}
        phenotypes: dict[str, dict[str, None]] = {}
        version = source.version
        with handle:
            header_seen = False
            for lineno, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if line.startswith("#"):
                    if line.startswith("#version:") and version is None:
                        version = line.split(":", 1)[1].strip()
                    continue
                if not line.strip():
                    continue
                fields = line.split("\t")
                if not header_seen:
                    header_seen = True
                    if fields[:4] != COLUMNS[:4]:
                        raise OntologyError(f"expected HPOA columns {COLUMNS[:4]}, found {fields[:4]}",
                                            location=f"{path}:{lineno}")
                    continue
                if len(fields) != len(COLUMNS):
                    self.stats["broken"] += 1
                    report(on_error, f"{path}:{lineno}", f"expected {len(COLUMNS)} columns, found {len(fields)}")
                    continue
                disease, name, qualifier, hpo, aspect = fields[0], fields[1], fields[2], fields[3], fields[10]
                self.stats["annotations"] += 1
                names.setdefault(disease, name)
                if qualifier == "NOT" or aspect != "P":
                    self.stats["skipped"] += 1
                    continue
                phenotypes.setdefault(disease, {})[hpo] = None
        source.version = version
        make = TripleFactory(str(source.name), version)
        for disease, name in names.items():
            self.stats["diseases"] += 1
            subject = iri(disease)
            yield make.literal(subject, LABEL, name)
            for hpo in phenotypes.get(disease, {}):
                yield make(subject, HAS_PHENOTYPE, iri(hpo))
