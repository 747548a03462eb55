"""Concept cards: each concept written out as one passage ``Document``, embedded beside the literature.

A card reads like "Type 2 diabetes mellitus (DOID:9352) is a diabetes mellitus. Synonyms: NIDDM; ...
Definition: ... Codes: ICD-10-CM E11; MeSH D003924; ... Symptoms: ...". Its metadata names the CURIE,
the ontology and its version, and the triples the text was written from, so a citation of the card
can name them.

Example:
    >>> docs = list(concept_cards(store, ontologies=["disease-ontology"], require_definition=True))
    >>> docs[0].id, docs[0].source
    ('concept:DOID:0001816', 'ontology/disease-ontology')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from ragmed.ontology import curies
from ragmed.ontology.store import ConceptRecord, ConceptStore
from ragmed.types import Document

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_SCOPE_PREDICATES = {"exact": "oboInOwl:hasExactSynonym", "related": "oboInOwl:hasRelatedSynonym",
                     "narrow": "oboInOwl:hasNarrowSynonym", "broad": "oboInOwl:hasBroadSynonym"}


def concept_cards(store: ConceptStore, ontologies: Iterable[str] | None = None, require_definition: bool = False,
                  curie_list: Iterable[str] | None = None, include: Callable[[ConceptRecord], bool] | None = None,
                  limit: int | None = None, max_synonyms: int = 10, max_features: int = 12) -> Iterator[Document]:
    """Yield one card ``Document`` per selected concept.

    Embedding every card of large ontologies takes long on a CPU (DO + HPO + ICD-10-CM is about 77,000
    cards), so the selection can be narrowed.

    Args:
        store: the concept store.
        ontologies: only concepts of these ontology names (``disease-ontology``, ``hpo``...); None for all.
        require_definition: only concepts that have a definition.
        curie_list: only these concepts (in this order); overrides ``ontologies``.
        include: a further test on each ``ConceptRecord``.
        limit: stop after this many cards.
        max_synonyms: synonyms written per card.
        max_features: symptoms or phenotypes written per card.

    Returns:
        An iterator of ``Document`` with id ``concept:<CURIE>``, source ``ontology/<name>``.
    """
    info = {o.name: o for o in store.ontologies()}
    if curie_list is not None:
        selected: Iterable[str] = curie_list
    elif ontologies is None:
        selected = store.curies(with_definition=require_definition)
    else:
        selected = (c for name in ontologies for c in store.curies(name, with_definition=require_definition))
    made = 0
    for curie in selected:
        if limit is not None and made >= limit:
            return
        record = store.record(curie)
        if record is None or record.label is None or (require_definition and not record.definition):
            continue
        if include is not None and not include(record):
            continue
        text, triples = card_text(store, record, max_synonyms, max_features)
        ontology = info.get(record.ontology)
        made += 1
        yield Document(
            id=f"concept:{record.curie}",
            source=f"ontology/{record.ontology}",
            title=record.label,
            text=text,
            url=record.iri if record.iri.startswith("http") else None,
            licence=ontology.licence if ontology else None,
            date=record.version if record.version and _DATE.match(record.version) else None,
            doc_type="concept",
            metadata={"curie": record.curie, "ontology": record.ontology, "version": record.version,
                      "attribution": ontology.attribution if ontology else None, "triples": triples},
        )


def card_text(store: ConceptStore, record: ConceptRecord, max_synonyms: int = 10,
              max_features: int = 12) -> tuple[str, list[list[str]]]:
    """The card text of one concept and the ``[subject, predicate, object]`` triples it was written from."""
    c = record.curie
    triples: list[list[str]] = [[c, "rdfs:label", record.name]]
    sentence = f"{_capitalise(record.name)} ({c})"
    parents = record.parents[:3]
    if parents:
        sentence += " " + " and ".join(_parent_phrase(parent, label) for parent, label in parents)
        triples += [[c, "rdfs:subClassOf", parent] for parent, _ in parents]
    parts = [sentence + "."]
    synonyms = [(s, scope) for scope in ("exact", "related", "narrow", "broad") for s in record.synonyms.get(scope, [])]
    if synonyms:
        shown = synonyms[:max_synonyms]
        parts.append("Synonyms: " + "; ".join(s for s, _ in shown) + ".")
        triples += [[c, _SCOPE_PREDICATES[scope], s] for s, scope in shown]
    if record.definition:
        parts.append("Definition: " + record.definition.rstrip(".") + ".")
        triples.append([c, "IAO:0000115", record.definition])
    codes = _codes(record.xrefs)
    if codes:
        parts.append("Codes: " + "; ".join(codes) + ".")
        triples += [[c, "oboInOwl:hasDbXref", x] for x in record.xrefs
                    if curies.split_curie(x)[0] in curies.CODE_NAMES]
    if record.semantic_types:
        parts.append("Semantic type: " + "; ".join(record.semantic_types) + ".")
        triples += [[c, "ragmed:semanticType", t] for t in record.semantic_types]
    if record.symptoms:
        shown_symptoms = record.symptoms[:max_features]
        parts.append("Symptoms: " + "; ".join(label or s for s, label in shown_symptoms) + ".")
        triples += [[c, "ragmed:hasSymptom", s] for s, _ in shown_symptoms]
    phenotypes = [(p, label, c) for p, label in record.phenotypes[:max_features]]
    if not phenotypes:
        phenotypes = store.phenotypes_via_xrefs(c, limit=max_features)
    if phenotypes:
        parts.append("Phenotypes (HPO): " + "; ".join(label or p for p, label, _ in phenotypes) + ".")
        triples += [[disease, "ragmed:hasPhenotype", p] for p, _, disease in phenotypes]
    return " ".join(parts), triples


def _codes(xrefs: list[str]) -> list[str]:
    grouped: dict[str, list[str]] = {}
    for xref in xrefs:
        system, code = curies.code_of(xref)
        grouped.setdefault(system, []).append(code)
    return curies.display_codes(grouped)


def _parent_phrase(parent: str, label: str | None) -> str:
    prefix, local = curies.split_curie(parent)
    if prefix == "ICD10CM" and "-" in local:
        return f"is classified under {label or parent} ({local})"
    name = _lower_first(label or parent)
    return f"is {_article(name)} {name}"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2].istitle() and not text[1:2].isupper() else text


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"
