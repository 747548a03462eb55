"""SQLite schema of the concept store (``concepts.sqlite`` beside an index)."""

from __future__ import annotations

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE ontologies (
    name TEXT PRIMARY KEY, version TEXT, format TEXT, path TEXT, licence TEXT, attribution TEXT,
    triples INTEGER, concepts INTEGER, errors INTEGER
);
CREATE TABLE concepts (
    curie TEXT PRIMARY KEY, iri TEXT, label TEXT, definition TEXT, ontology TEXT, version TEXT,
    semantic_type TEXT, triples INTEGER
);
CREATE TABLE synonyms (curie TEXT, text TEXT, scope TEXT);
CREATE TABLE parents (curie TEXT, parent TEXT);
CREATE TABLE xrefs (curie TEXT, xref TEXT);
CREATE TABLE features (curie TEXT, kind TEXT, target TEXT);
"""

INDEXES = """
CREATE INDEX synonyms_curie ON synonyms (curie);
CREATE INDEX parents_curie ON parents (curie);
CREATE INDEX parents_parent ON parents (parent);
CREATE INDEX xrefs_curie ON xrefs (curie);
CREATE INDEX xrefs_xref ON xrefs (xref);
CREATE INDEX features_curie ON features (curie);
CREATE INDEX concepts_ontology ON concepts (ontology);
"""
