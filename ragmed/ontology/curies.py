"""CURIEs, IRIs and the predicate vocabulary shared by loaders, the concept store and the linker.

Plain strings only, so lookups never need rdflib. Concept ids are CURIEs such as ``DOID:9352``,
``HP:0001945``, ``ICD10CM:E11``, ``MESH:D003924``, ``UMLS:C0011860`` or ``SNOMEDCT:44054006``.
"""

from __future__ import annotations

import re

OBO = "http://purl.obolibrary.org/obo/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OBO_IN_OWL = "http://www.geneontology.org/formats/oboInOwl#"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RAGMED = "https://w3id.org/ragmed/vocab#"
"""Predicates that no standard vocabulary has (semantic types, phenotypes, symptoms, SNOMED FSNs)."""

LABEL = RDFS + "label"
COMMENT = RDFS + "comment"
SUBCLASS_OF = RDFS + "subClassOf"
OWL_CLASS = OWL + "Class"
OWL_ONTOLOGY = OWL + "Ontology"
VERSION_INFO = OWL + "versionInfo"
DEFINITION = OBO + "IAO_0000115"
SKOS_DEFINITION = SKOS + "definition"
PREF_LABEL = SKOS + "prefLabel"
ALT_LABEL = SKOS + "altLabel"
BROADER = SKOS + "broader"
NOTATION = SKOS + "notation"
EXACT_MATCH = SKOS + "exactMatch"
HAS_DBXREF = OBO_IN_OWL + "hasDbXref"
ALT_ID = OBO_IN_OWL + "hasAlternativeId"
IN_SUBSET = OBO_IN_OWL + "inSubset"
SYNONYM_PREDICATES = {
    "exact": OBO_IN_OWL + "hasExactSynonym",
    "related": OBO_IN_OWL + "hasRelatedSynonym",
    "narrow": OBO_IN_OWL + "hasNarrowSynonym",
    "broad": OBO_IN_OWL + "hasBroadSynonym",
}
SEMANTIC_TYPE = RAGMED + "semanticType"
FULLY_SPECIFIED_NAME = RAGMED + "fullySpecifiedName"
HAS_PHENOTYPE = RAGMED + "hasPhenotype"
HAS_SYMPTOM = RAGMED + "hasSymptom"

PREFIX_IRIS: dict[str, str] = {
    "ICD10CM": "http://purl.bioontology.org/ontology/ICD10CM/",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "UMLS": "http://linkedlifedata.com/resource/umls/id/",
    "SNOMEDCT": "http://snomed.info/id/",
    "OMIM": "https://omim.org/entry/",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "DECIPHER": "https://www.deciphergenomics.org/syndrome/",
}
"""Code systems that are not OBO ontologies; everything else maps to ``OBO + PREFIX_local``."""

NAMESPACES: dict[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdfs": RDFS, "owl": OWL, "skos": SKOS,
    "oboInOwl": OBO_IN_OWL, "dc": DC, "terms": DCTERMS, "dcterms": DCTERMS, "xsd": XSD, "ragmed": RAGMED,
    "obo": OBO,
}
"""Prefixes bound when triples are written out, and expanded in OBO ``property_value`` tags."""

_ALIASES = {
    "UMLS_CUI": "UMLS", "CUI": "UMLS", "MSH": "MESH", "MESH": "MESH", "SCTID": "SNOMEDCT",
    "SNOMED": "SNOMEDCT", "SNOMED_CT": "SNOMEDCT", "SNOMEDCT_US": "SNOMEDCT", "ICD-10-CM": "ICD10CM",
    "ICD10CM": "ICD10CM", "ICD-10": "ICD10", "ICD-9": "ICD9CM", "ICD9": "ICD9CM", "ORDO": "ORPHA",
    "ORPHANET": "ORPHA", "NCI": "NCIT", "NCIT": "NCIT", "MIM": "OMIM", "HPO": "HP", "ICD-O": "ICDO",
}
_VERSIONED = re.compile(r"^(SNOMEDCT|ICD10CM|MESH|UMLS)_[A-Z0-9_]+$")
_NOT_CODES = {"URL", "HTTP", "HTTPS", "PMID", "ORCID", "ISBN", "DOI", "WIKIPEDIA"}
_OBO_IRI = re.compile(r"^http://purl\.obolibrary\.org/obo/([A-Za-z][A-Za-z0-9]*)_(.+)$")

CODE_NAMES: dict[str, str] = {
    "DOID": "DOID", "ICD10CM": "ICD-10-CM", "ICD10": "ICD-10", "ICD9CM": "ICD-9-CM", "MESH": "MeSH",
    "UMLS": "UMLS", "SNOMEDCT": "SNOMED CT", "HP": "HPO", "OMIM": "OMIM", "ORPHA": "Orphanet",
    "NCIT": "NCIt", "GARD": "GARD", "MONDO": "MONDO", "EFO": "EFO", "MEDDRA": "MedDRA", "ICDO": "ICD-O",
}
"""Display names of code systems, in the order cards and the CLI list them."""

PREFIXED_CODES = {"DOID", "HP", "SYMP", "MONDO", "EFO", "OMIM", "ORPHA", "DECIPHER", "GARD", "MP", "GO"}
"""Code systems whose identifiers are written with their prefix (``DOID:9352`` but ``E11``)."""


def split_curie(curie: str) -> tuple[str, str]:
    """Split ``PREFIX:local`` into its two parts (prefix ``""`` when there is no colon)."""
    prefix, sep, local = curie.partition(":")
    return (prefix, local) if sep else ("", curie)


def curie_to_iri(curie: str) -> str:
    """Expand a CURIE to its IRI: known code systems first, then the OBO PURL pattern.

    Example:
        >>> curie_to_iri("DOID:9352")
        'http://purl.obolibrary.org/obo/DOID_9352'
    """
    prefix, local = split_curie(curie)
    if not prefix or curie.startswith(("http://", "https://", "urn:")):
        return curie
    if prefix in PREFIX_IRIS:
        return PREFIX_IRIS[prefix] + local
    if prefix in NAMESPACES:
        return NAMESPACES[prefix] + local
    return f"{OBO}{prefix}_{local}"


def iri_to_curie(iri: str) -> str:
    """Compact an IRI to a CURIE; an IRI of no known namespace is returned unchanged."""
    match = _OBO_IRI.match(iri)
    if match:
        return f"{match.group(1)}:{match.group(2)}"
    for prefix, base in PREFIX_IRIS.items():
        if iri.startswith(base):
            return f"{prefix}:{iri[len(base):]}"
    return iri


def normalise_prefix(prefix: str) -> str:
    """Map the prefix variants found in xrefs onto one name (``UMLS_CUI`` -> ``UMLS``,
    ``SNOMEDCT_US_2023_03_01`` -> ``SNOMEDCT``, ``MSH`` -> ``MESH``)."""
    upper = prefix.strip().upper()
    if upper in _ALIASES:
        return _ALIASES[upper]
    versioned = _VERSIONED.match(upper)
    if versioned:
        return versioned.group(1)
    if upper.startswith("SNOMEDCT"):
        return "SNOMEDCT"
    return prefix.strip() if prefix.strip() in PREFIXED_CODES else upper


def normalise_xref(raw: str) -> str | None:
    """Normalise one cross-reference to a CURIE, or None for links that are not codes (URLs, PMIDs).

    Example:
        >>> normalise_xref("SNOMEDCT_US_2023_03_01:44054006")
        'SNOMEDCT:44054006'
    """
    text = raw.strip().split(" ", 1)[0].strip().strip('"')
    prefix, local = split_curie(text)
    if not prefix or not local or local.startswith("//"):
        return None
    norm = normalise_prefix(prefix)
    if norm in _NOT_CODES:
        return None
    inner_prefix, inner_local = split_curie(local)
    if inner_prefix and normalise_prefix(inner_prefix) == norm:
        local = inner_local
    local = local.strip()
    if norm in {"ICD10CM", "ICD10", "MESH", "UMLS"}:
        local = local.upper()
    return f"{norm}:{local}" if local else None


def code_of(curie: str) -> tuple[str, str]:
    """The ``(system, code)`` pair shown for a CURIE: ``DOID:9352`` -> ``("DOID", "DOID:9352")``,
    ``ICD10CM:E11`` -> ``("ICD10CM", "E11")``."""
    prefix, local = split_curie(curie)
    return (prefix, curie) if prefix in PREFIXED_CODES else (prefix, local)


def display_codes(codes: dict[str, list[str]], skip: str | None = None) -> list[str]:
    """Codes as people read them, one string per system in ``CODE_NAMES`` order:
    ``{"ICD10CM": ["E11"], "OMIM": ["OMIM:125853"]}`` -> ``["ICD-10-CM E11", "OMIM:125853"]``.
    ``skip`` (a CURIE) is left out."""
    out = []
    for system in [s for s in CODE_NAMES if s in codes]:
        values = [v for v in codes[system] if v != skip]
        if values:
            joined = ", ".join(values)
            out.append(joined if system in PREFIXED_CODES else f"{CODE_NAMES[system]} {joined}")
    return out
