"""PubMedQA JSON (``ori_pqal.json`` style: ``{pmid: {QUESTION, CONTEXTS, LABELS, ...}}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError
from ragmed.sources.base import OnError
from ragmed.sources.files import read_text
from ragmed.sources.layout import TextBuilder, clean, iso_date
from ragmed.sources.medline import pubmed_url
from ragmed.types import Document, RecordError

PUBMEDQA_LICENCE = "MIT; PubMed text courtesy of the U.S. National Library of Medicine"


@dataclass
class PubMedQAReader:
    """Reads PubMedQA question sets: one ``Document`` per PMID holding its abstract contexts.

    The text is the abstract contexts as ``LABEL: content`` sections. The conclusion
    (``LONG_ANSWER``) is left out unless ``include_conclusion`` is set, because it gives the
    answer away when the set is used for evaluation. The question and its gold decision are in
    ``metadata`` for the evaluation harness; they are not part of the text. PubMedQA has no
    article titles, so the title is "PMID nnn" (the question is derived from the real title and
    would leak it).

    Example:
        >>> docs = list(PubMedQAReader().read(Path("ori_pqal.json"), print))
        >>> docs[0].metadata["final_decision"]
    """

    name: str = "pubmedqa"
    suffixes: tuple[str, ...] = (".json", ".json.gz")
    include_conclusion: bool = False

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read every question record of ``path``.

        Args:
            path: a PubMedQA JSON file keyed by PMID.
            on_error: receives a ``RecordError`` (file and PMID) for each record without contexts.

        Returns:
            An iterator of documents in file order.

        Raises:
            IngestError: the file is not valid JSON (names line and column) or not an object
                keyed by PMID.
        """
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise IngestError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                              location=f"{path}:{exc.lineno}") from exc
        if not isinstance(data, dict):
            raise IngestError(f"expected a JSON object keyed by PMID, got a {type(data).__name__}",
                              location=str(path))
        for pmid, record in data.items():
            document = self._document(str(pmid).strip(), record, f"{path} PMID {pmid}", on_error)
            if document is not None:
                yield document

    def _document(self, pmid: str, record: Any, where: str, on_error: OnError) -> Document | None:
        if not isinstance(record, dict):
            on_error(RecordError(where, f"expected an object, got {type(record).__name__}; skipped"))
            return None
        contexts = record.get("CONTEXTS")
        if not isinstance(contexts, list) or not any(isinstance(c, str) and c.strip() for c in contexts):
            on_error(RecordError(where, "no CONTEXTS (abstract text); skipped"))
            return None
        raw_labels = record.get("LABELS")
        labels = raw_labels if isinstance(raw_labels, list) else []
        builder = TextBuilder()
        for index, context in enumerate(contexts):
            label = labels[index] if index < len(labels) and isinstance(labels[index], str) else ""
            content = clean(context) if isinstance(context, str) else ""
            if label.strip():
                builder.labelled(label.strip(), content)
            elif content:
                builder.section("Abstract")
                builder.add(content)
        conclusion = clean(record.get("LONG_ANSWER")) if isinstance(record.get("LONG_ANSWER"), str) else ""
        if self.include_conclusion and conclusion:
            builder.labelled("CONCLUSIONS", conclusion)
        text, sections = builder.build()
        raw_meshes = record.get("MESHES")
        meshes = raw_meshes if isinstance(raw_meshes, list) else []
        return Document(
            id=f"pmid:{pmid}", source="pubmedqa", title=f"PMID {pmid}", text=text, url=pubmed_url(pmid),
            licence=PUBMEDQA_LICENCE, date=iso_date(record.get("YEAR")), doc_type=None, language="en",
            sections=sections,
            metadata={
                "pmid": pmid,
                "question": clean(record.get("QUESTION")) if isinstance(record.get("QUESTION"), str) else None,
                "final_decision": record.get("final_decision"),
                "mesh": [m for m in meshes if isinstance(m, str)],
            },
        )
