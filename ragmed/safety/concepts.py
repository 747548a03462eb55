"""The concept store the triage links questions with when training and evaluating outside an engine: the
named index's own store, else one built once from the knowledge manifest's ontologies into the index
root's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragmed.types import Concept

CACHED = "safety-concepts.sqlite"


def open_concepts(settings: Any, index: str | None = None) -> Any:
    """An ``OntologyService`` over ``<root>/<index>/concepts.sqlite``, or over a store built from the
    knowledge manifest (``<root>/.cache/safety-concepts.sqlite``, built on first use in about 15 s).

    Raises:
        OntologyError: no store could be built (the manifest names no readable ontology).
    """
    from ragmed.errors import OntologyError
    from ragmed.ontology.service import STORE_FILENAME, OntologyService

    path = Path(settings.index.root) / (index or settings.index.name) / STORE_FILENAME
    if path.exists():
        return OntologyService.open(path)
    cached = Path(settings.embedding.cache_dir or Path(settings.index.root) / ".cache") / CACHED
    if not cached.exists():
        from ragmed.knowledge import load_manifest
        from ragmed.ontology.builder import build_concept_store
        from ragmed.ontology.service import as_source

        manifest = load_manifest(settings.knowledge)
        if not manifest.ontology:
            raise OntologyError("the knowledge manifest names no ontology to link concepts with",
                                location=str(settings.knowledge))
        cached.parent.mkdir(parents=True, exist_ok=True)
        build_concept_store([as_source(e) for e in manifest.ontology], cached)
    return OntologyService.open(cached)


def expander(service: Any, expand: bool = True) -> Any:
    """``text -> (expanded query text, linked concepts)`` as retrieval expands queries (the text as asked
    when ``expand`` is False)."""

    def link(text: str) -> tuple[str, list[Concept]]:
        expanded = service.expand(text)
        return (expanded.text if expand else text), list(expanded.concepts)

    return link
