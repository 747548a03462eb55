"""Ontologies: loaders to rdflib triples, the SQLite concept store, concept cards, linking and expansion.

Flow: ``OntologySource`` -> loader (one per format) -> ``Triple`` stream -> ``build_concept_store``
-> ``ConceptStore`` -> ``concept_cards`` (passages to embed), ``get_linker`` (concept linking) and
``expand_query`` (query expansion). Lookups use only SQLite; rdflib is imported by the loaders.

Example:
    >>> from ragmed.ontology import OntologySource, build_concept_store, ConceptStore, get_linker
    >>> build_concept_store([OntologySource("doid.obo", name="disease-ontology")], "concepts.sqlite")
    >>> get_linker(ConceptStore("concepts.sqlite")).link("heart attack")[0].curie
    'DOID:5844'
"""

from __future__ import annotations

from typing import Any

from ragmed.ontology.base import FORMATS, OntologyLoader, OntologySource, Triple, detect_format, get_loader, load
from ragmed.ontology.builder import OntologyReport, SourceCounts, build_concept_store
from ragmed.ontology.cards import concept_cards
from ragmed.ontology.expand import ConceptLinker, ExpandedQuery, expand_query
from ragmed.ontology.linker import Linker, get_linker
from ragmed.ontology.store import ConceptRecord, ConceptStore, OntologyInfo

__all__ = [
    "FORMATS", "ConceptLinker", "ConceptRecord", "ConceptStore", "ExpandedQuery", "Linker", "OntologyInfo",
    "OntologyLoader", "OntologyReport", "OntologySource", "SourceCounts", "Triple", "build_concept_store",
    "concept_cards", "detect_format", "expand_query", "export", "get_linker", "get_loader", "load",
]


def __getattr__(name: str) -> Any:
    if name == "export":  # imports rdflib, so only on use
        from ragmed.ontology.serialize import export

        return export
    raise AttributeError(f"module 'ragmed.ontology' has no attribute {name!r}")
