"""JSON forms of answers, passages and documents as the API returns them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from ragmed.types import Answer, Citation, Document, Passage


def document_path(doc_id: str) -> str:
    """The API path of a document, e.g. ``/v1/documents/pmid%3A123``."""
    return "/v1/documents/" + quote(doc_id, safe="")


def citation_json(citation: Citation) -> dict[str, Any]:
    """A citation with ``document`` (the API path of its document) and ``link`` (its URL, or that path)."""
    data = citation.to_dict()
    data["document"] = document_path(citation.doc_id)
    data["link"] = citation.url or data["document"]
    return data


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer as JSON: text with ``[n]`` markers, citations (spans, links), concepts (codes), flags, timings.

    Each citation gains ``document`` (the API path of its document, whose ``text[start:end]`` is the
    supporting sentence) and ``link`` (the source URL, or that path when the source has none).
    """
    data = answer.to_dict()
    data["citations"] = [citation_json(c) for c in answer.citations]
    for passage in data["passages"]:
        passage["document"] = document_path(passage["doc_id"])
    data["emergency"] = any(flag.kind == "emergency" for flag in answer.flags)
    return data


def passage_json(passage: Passage) -> dict[str, Any]:
    """A retrieved passage with the API path of its document."""
    data = passage.to_dict()
    data["document"] = document_path(passage.doc_id)
    return data


def document_json(document: Document) -> dict[str, Any]:
    """A document with its full text, sections (name, start, end) and year."""
    data = asdict(document)
    data["sections"] = [list(section) for section in document.sections]
    data["year"] = document.year
    return data


def references(answer: Answer) -> str:
    """A plain-text reference list for the citations of ``answer`` (one ``[n] title - link`` per line)."""
    lines = []
    for citation in answer.citations:
        link = citation.url or document_path(citation.doc_id)
        lines.append(f"[{citation.n}] {citation.title or citation.doc_id} - {link}")
    return "\n".join(lines)
