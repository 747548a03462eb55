"""rdflib terms for the loaders: predicate constants and a small factory of provenance-tagged triples."""

from __future__ import annotations

from functools import lru_cache

from rdflib import Literal, URIRef

from ragmed.ontology import curies
from ragmed.ontology.base import Triple

TYPE = URIRef(curies.RDF_TYPE)
LABEL = URIRef(curies.LABEL)
COMMENT = URIRef(curies.COMMENT)
SUBCLASS_OF = URIRef(curies.SUBCLASS_OF)
OWL_CLASS = URIRef(curies.OWL_CLASS)
OWL_ONTOLOGY = URIRef(curies.OWL_ONTOLOGY)
VERSION_INFO = URIRef(curies.VERSION_INFO)
DEFINITION = URIRef(curies.DEFINITION)
HAS_DBXREF = URIRef(curies.HAS_DBXREF)
ALT_ID = URIRef(curies.ALT_ID)
IN_SUBSET = URIRef(curies.IN_SUBSET)
NOTATION = URIRef(curies.NOTATION)
SYNONYM = {scope: URIRef(iri) for scope, iri in curies.SYNONYM_PREDICATES.items()}
SEMANTIC_TYPE = URIRef(curies.SEMANTIC_TYPE)
FULLY_SPECIFIED_NAME = URIRef(curies.FULLY_SPECIFIED_NAME)
HAS_PHENOTYPE = URIRef(curies.HAS_PHENOTYPE)
HAS_SYMPTOM = URIRef(curies.HAS_SYMPTOM)


@lru_cache(maxsize=200_000)
def iri(curie: str) -> URIRef:
    """The rdflib IRI of a CURIE (cached: parents and phenotypes repeat often)."""
    return URIRef(curies.curie_to_iri(curie))


def ragmed_predicate(name: str) -> URIRef:
    """A predicate of the ragmed vocabulary, e.g. ``ragmed:umls_may_treat``."""
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return URIRef(curies.RAGMED + safe)


class TripleFactory:
    """Makes ``Triple`` objects tagged with one ontology's name and version."""

    def __init__(self, source: str, version: str | None) -> None:
        self.source = source
        self.version = version

    def __call__(self, subject: URIRef, predicate: URIRef, obj: object) -> Triple:
        return Triple(subject, predicate, obj, self.source, self.version)

    def literal(self, subject: URIRef, predicate: URIRef, text: str) -> Triple:
        """A triple whose object is a plain string literal."""
        return Triple(subject, predicate, Literal(text), self.source, self.version)
