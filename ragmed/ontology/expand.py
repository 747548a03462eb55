"""Query expansion: linked concepts add their preferred label and exact synonyms to the query.

Example:
    >>> expand_query("heart attack in women", get_linker(store)).added_terms
    ['myocardial infarction', 'Myocardial infarct']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ragmed.errors import ConfigError
from ragmed.ontology.normalise import key
from ragmed.types import Concept


class ConceptLinker(Protocol):
    """Anything that links concepts in text (``Linker`` does)."""

    def link(self, text: str, merge: bool = True) -> list[Concept]:
        ...


@dataclass
class ExpandedQuery:
    """A query with the terms its linked concepts added.

    ``text`` is the query to search with (the original followed by the added terms); ``original`` is
    the query as asked.
    """

    text: str
    added_terms: list[str] = field(default_factory=list)
    concepts: list[Concept] = field(default_factory=list)
    original: str = ""


def expand_query(text: str, linker: ConceptLinker, store: object | None = None, max_terms: int = 8,
                 max_per_concept: int = 3) -> ExpandedQuery:
    """Link the concepts of ``text`` and append their labels and exact synonyms.

    Terms already in the query (ignoring case, punctuation and plurals) are not added again.

    Args:
        text: the query.
        linker: a concept linker (``get_linker(store)``).
        store: unused; accepted so callers may pass the store the linker was built from.
        max_terms: most terms added in all.
        max_per_concept: most terms added per linked concept (its label first).

    Returns:
        ``ExpandedQuery`` with the expanded text, the terms added and the concepts linked.

    Raises:
        ConfigError: a limit below zero.
    """
    if max_terms < 0 or max_per_concept < 0:
        raise ConfigError(f"max_terms and max_per_concept must be >= 0, got {max_terms} and {max_per_concept}")
    concepts = linker.link(text)
    seen_keys = {key(text)}
    query_key = f" {key(text)} "
    added: list[str] = []
    unique: dict[str, Concept] = {}
    for concept in concepts:
        unique.setdefault(concept.curie, concept)
    for concept in unique.values():
        per_concept = 0
        for term in [concept.label, *concept.synonyms]:
            if len(added) >= max_terms or per_concept >= max_per_concept:
                break
            term_key = key(term)
            if not term_key or term_key in seen_keys or f" {term_key} " in query_key:
                continue
            seen_keys.add(term_key)
            added.append(term)
            per_concept += 1
    expanded = f"{text} {'; '.join(added)}" if added else text
    return ExpandedQuery(text=expanded, added_terms=added, concepts=concepts, original=text)
