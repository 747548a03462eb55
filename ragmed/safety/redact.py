"""Untrusted evidence made safe to use: flagged sentences blanked and flagged titles replaced before a passage
reaches a prompt, an answer or a citation; documents scanned when they are ingested.

Blanking keeps every offset: a flagged sentence becomes spaces of the same length, so the other sentences'
spans still index the document text (``Citation.start``/``end``).

Example:
    >>> safe = redact_passages(passages)  # doctest: +SKIP
    >>> safe[0].metadata["injection"]  # doctest: +SKIP
    [{'field': 'text', 'start': 120, 'end': 191, 'score': 0.97, 'reason': 'sentence'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ragmed.safety.injection import InjectionDetector, default_detector
from ragmed.types import Document, Passage, SafetyFlag

REDACTED_TITLE = "[title withheld: it read like an instruction]"
KEY = "injection"
"""Metadata key of the flagged spans, on documents (set at ingest) and on redacted passages."""


def _spans(detector: InjectionDetector, text: str, field: str) -> list[dict[str, Any]]:
    return [{"field": field, "start": s.start, "end": s.end, "score": s.score, "reason": s.reason}
            for s in detector.find(text)]


def scan_document(document: Document, detector: InjectionDetector | None = None) -> list[dict[str, Any]]:
    """The flagged spans of a document's title and text (``field`` says which), in order."""
    detector = detector or default_detector()
    title = _spans(detector, document.title, "title") if document.title.strip() else []
    if title:
        title = [{**title[0], "start": 0, "end": len(document.title)}]
    return title + _spans(detector, document.text, "text")


def redact_passage(passage: Passage, detector: InjectionDetector | None = None) -> Passage:
    """``passage`` with flagged sentences blanked and a flagged title replaced (a copy when anything was
    flagged; the spans go to ``metadata["injection"]``); passages already redacted are returned as they are."""
    if KEY in passage.metadata:
        return passage
    detector = detector or default_detector()
    text_spans = _spans(detector, passage.text, "text")
    title_spans = _spans(detector, passage.title, "title") if passage.title.strip() else []
    if not text_spans and not title_spans:
        return passage
    chars = list(passage.text)
    for span in text_spans:
        chars[span["start"]:span["end"]] = " " * (span["end"] - span["start"])
    title = REDACTED_TITLE if title_spans else passage.title
    return replace(passage, text="".join(chars), title=title,
                   metadata={**passage.metadata, KEY: title_spans[:1] + text_spans})


def redact_passages(passages: Sequence[Passage], detector: InjectionDetector | None = None) -> list[Passage]:
    """``redact_passage`` for each passage, in order."""
    detector = detector or default_detector()
    return [redact_passage(p, detector) for p in passages]


def injection_flags(items: Sequence[str | Passage]) -> list[SafetyFlag]:
    """One ``SafetyFlag(kind="injection")`` per passage (or text) holding flagged text.

    Redacted passages are judged by their recorded spans, others are scanned.

    Args:
        items: passages or passage texts, in order; the flag's ``rule`` names the passage (1-based).
    """
    flags = []
    for i, item in enumerate(items, 1):
        if isinstance(item, Passage):
            found = bool(item.metadata.get(KEY)) or bool(redact_passage(item).metadata.get(KEY))
        else:
            found = default_detector().flags(item)
        if found:
            flags.append(SafetyFlag(kind="injection", rule=f"passage:{i}", message=(
                f"Evidence [{i}] contains text that reads like an instruction to the model or the reader; "
                "it was removed and not followed.")))
    return flags
