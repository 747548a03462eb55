"""MedQuAD XML: NIH consumer-health question-answer pairs, one ``<Document>`` per file."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError
from ragmed.sources.base import OnError
from ragmed.sources.files import GZIP_ERRORS, open_binary
from ragmed.sources.layout import clean, clean_paragraphs
from ragmed.sources.xmltools import element_text
from ragmed.types import Document, RecordError

MEDQUAD_LICENCE = "CC BY 4.0"
MEDQUAD_ATTRIBUTION = "MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019), CC BY 4.0"
#: Root tags used across the MedQuAD subsets (most files use ``Document``).
ROOT_TAGS = frozenset({"Document", "DiseaseFile", "doc"})
#: The agency credit that ends many MedlinePlus answers ("... NIH: National Institute of Diabetes and ...").
CREDIT = re.compile(r"\s*\b(NIH: National [A-Z][A-Za-z,]*(?: [A-Za-z,]+)*)\s*$")


@dataclass
class MedQuADReader:
    """Reads one MedQuAD file: one ``Document`` per question-answer pair with an answer.

    ``title`` is the question and ``text`` the answer (whitespace normalised, paragraphs kept); the agency
    credit that ends many MedlinePlus answers ("NIH: National Institute of ...") goes to ``metadata["credit"]``
    rather than the text, so that it is never cited as a claim.
    ``id`` is "medquad:<source>/<file>-<pid>", which equals "medquad:<source>/<qid>" except in
    the few CancerGov files that repeat another file's qids; question ids alone repeat across
    the subsets. Empty answers are part of the published data and are skipped silently; a pair
    without a question is reported.

    Example:
        >>> docs = list(MedQuADReader().read(Path("MedQuAD/2_GARD_QA/0000001.xml"), print))
    """

    name: str = "medquad"
    suffixes: tuple[str, ...] = (".xml", ".xml.gz")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read the answered pairs of one MedQuAD file.

        Args:
            path: a MedQuAD XML file.
            on_error: receives a ``RecordError`` (file and pair id) for each pair without a question.

        Returns:
            An iterator of documents in file order.

        Raises:
            IngestError: the XML is malformed (names line and column) or is not MedQuAD.
        """
        with open_binary(path) as handle:
            try:
                root = ET.parse(handle).getroot()
            except ET.ParseError as exc:
                line, column = exc.position
                raise IngestError(f"malformed XML at line {line}, column {column}: {exc}",
                                  location=f"{path}:{line}") from exc
            except GZIP_ERRORS as exc:
                raise IngestError(f"damaged gzip data: {exc}", location=str(path)) from exc
        if root.tag not in ROOT_TAGS:
            raise IngestError(f"not a MedQuAD file: root element is <{root.tag}>", location=str(path))
        nodes = {node.tag.lower(): node for node in root.iter()}
        source = root.get("source") or root.get("corpus") or "unknown"
        focus = element_text(nodes.get("focus")) or element_text(nodes.get("doctitle-focus"))
        annotation = {
            "cuis": _texts(root, "cui"),
            "synonyms": _texts(root, "synonym"),
            "semantic_types": _texts(root, "semantictype"),
            "semantic_group": element_text(nodes.get("semanticgroup")) or None,
        }
        pairs = [n for n in root.iter() if n.tag.lower() in ("qapair", "pair")]
        if "qapairs" not in nodes:
            on_error(RecordError(str(path), "no QAPairs element; nothing read"))
        for ordinal, pair in enumerate(pairs, start=1):
            document = self._document(pair, ordinal, path, root, source, focus, annotation, on_error)
            if document is not None:
                yield document

    def _document(self, pair: ET.Element, ordinal: int, path: Path, root: ET.Element, source: str,
                  focus: str, annotation: dict[str, Any], on_error: OnError) -> Document | None:
        children = {child.tag.lower(): child for child in pair}
        pid = pair.get("pid") or str(ordinal)
        question_node = children.get("question")
        question = element_text(question_node)
        if question_node is None or not question:
            on_error(RecordError(f"{path} QAPair pid={pid}", "QAPair without a Question; skipped"))
            return None
        answer_node = children.get("answer")
        answer = clean_paragraphs("".join(answer_node.itertext())) if answer_node is not None else ""
        credit = CREDIT.search(answer)
        if credit and credit.start() > 0:
            answer = answer[: credit.start()]
        if not answer:
            return None
        qid = question_node.get("qid") or f"{path.stem}-{pid}"
        stem = path.name.split(".")[0]
        return Document(
            id=f"medquad:{source}/{stem}-{pid}", source=f"medquad/{source}", title=question, text=answer,
            url=root.get("url") or None, licence=MEDQUAD_LICENCE, date=None, doc_type="Consumer Health Q&A",
            language="en",
            metadata={
                "question": question, "qid": qid, "qtype": question_node.get("qtype"), "focus": focus or None,
                **annotation,
                "document_id": root.get("id") or root.get("docid") or root.get("fid"),
                "attribution": f"{MEDQUAD_ATTRIBUTION}; from {source}",
                **({"credit": credit.group(1)} if credit and credit.start() > 0 else {}),
            },
        )


def _texts(root: ET.Element, tag: str) -> list[str]:
    return [text for node in root.iter() if node.tag.lower() == tag and (text := clean(node.text))]
