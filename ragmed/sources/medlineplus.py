"""MedlinePlus health-topic XML (``<health-topics>``, NLM's ``mplus_topics_YYYY-MM-DD.xml``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragmed.sources.base import OnError
from ragmed.sources.html import parse_html
from ragmed.sources.layout import TextBuilder, iso_date
from ragmed.sources.xmltools import (
    STREAM_ERRORS,
    element_text,
    parse_error,
    stream_records,
)
from ragmed.types import Document, RecordError

MEDLINEPLUS_LICENCE = "Courtesy of MedlinePlus from the National Library of Medicine (public domain summary)"
_LANGUAGES = {"english": "en", "spanish": "es"}


@dataclass
class MedlinePlusReader:
    """Reads MedlinePlus health topics: one ``Document`` per ``<health-topic>`` with a summary.

    The text is the topic's full summary (its HTML turned into paragraphs) followed by an
    "Also called" line; ``id`` is "medlineplus:<topic id>". Groups, MeSH headings and related
    topics go into ``metadata``. A topic without a summary is reported and skipped.

    Example:
        >>> docs = list(MedlinePlusReader().read(Path("mplus_topics_2024-08-10.xml"), print))
    """

    name: str = "medlineplus"
    suffixes: tuple[str, ...] = (".xml", ".xml.gz")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Stream the health topics of ``path``.

        Args:
            path: a MedlinePlus health-topics XML file, optionally gzipped.
            on_error: receives a ``RecordError`` (file and topic id) for each topic without summary.

        Returns:
            An iterator of documents in file order.

        Raises:
            IngestError: the file cannot be opened or its XML is malformed (names the line).
        """
        last: str | None = None
        try:
            for topic in stream_records(path, frozenset({"health-topic"})):
                last = f"topic {topic.get('id')}"
                document = _document(topic, path, on_error)
                if document is not None:
                    yield document
        except STREAM_ERRORS as exc:
            raise parse_error(path, exc, last) from exc


def _document(topic: ET.Element, path: Path, on_error: OnError) -> Document | None:
    topic_id = topic.get("id") or ""
    title = (topic.get("title") or "").strip()
    _, summary, sections = parse_html(topic.findtext("full-summary") or "")
    if not topic_id or not summary:
        on_error(RecordError(f"{path} topic {topic_id or '?'}",
                             f"health topic {title!r} without id or summary; skipped"))
        return None
    builder = TextBuilder()
    builder.add(summary)
    also_called = [element_text(n) for n in topic.iterfind("also-called") if element_text(n)]
    if also_called:
        builder.add(f"Also called: {', '.join(also_called)}")
    text, _ = builder.build()
    month, day, year = ((topic.get("date-created") or "").split("/") + ["", "", ""])[:3]
    descriptors = list(topic.iterfind("mesh-heading/descriptor"))
    return Document(
        id=f"medlineplus:{topic_id}", source="medlineplus", title=title, text=text, url=topic.get("url"),
        licence=MEDLINEPLUS_LICENCE, date=iso_date(year, month, day), doc_type="Consumer Health Information",
        language=_LANGUAGES.get((topic.get("language") or "english").lower(), "en"), sections=sections,
        metadata={
            "topic_id": topic_id, "also_called": also_called,
            "groups": [element_text(g) for g in topic.iterfind("group")],
            "mesh": [element_text(d) for d in descriptors], "mesh_ui": [d.get("id", "") for d in descriptors],
            "related_topics": [element_text(r) for r in topic.iterfind("related-topic")],
            "meta_description": topic.get("meta-desc"),
        },
    )
