"""MedQuAD XML (one ``<Document>`` per file with ``<QAPairs>``) as open-ended items."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import OnError
from eval.items import EvalItem
from ragmed.errors import IngestError
from ragmed.types import RecordError


@dataclass
class QAPair:
    """One answered MedQuAD question with the provenance of its document."""

    qid: str
    qtype: str
    question: str
    answer: str
    focus: str
    source: str
    url: str | None
    file: Path

    @property
    def doc_id(self) -> str:
        """The id a MedQuAD answer carries as a document: ``medquad:<qid>``."""
        return f"medquad:{self.qid}"


def pair_id(source: str, stem: str, pid: str) -> str:
    """A question id unique across MedQuAD: ``<source>/<file stem>-<pair pid>``.

    The ``qid`` attributes repeat across collections (GHR and CDC both have ``0000001-1``) and
    within CancerGov (split files keep their parent's ids), so ids are built from the document's
    ``source`` attribute, the file name and the pair's ``pid``; ``medquad:<id>`` is the id ragmed's
    MedQuAD reader gives the answer as a document.

    Example:
        >>> pair_id("GHR", "0000001", "2")
        'GHR/0000001-2'
    """
    return f"{source}/{stem}-{pid}"


class MedQuADAdapter:
    """Reads a MedQuAD file or a folder of them (recursively, in sorted order).

    Each answered question becomes an open-ended item: ``long_answer`` is its answer and its gold
    document is ``medquad:<qid>``. Questions with an empty answer are reported and skipped.
    """

    name = "medquad"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per answered question.

        Raises:
            IngestError: ``path`` holds no XML file.
        """
        for pair in iter_pairs(path, on_error):
            yield EvalItem(
                id=pair.qid,
                question=pair.question,
                long_answer=pair.answer,
                gold_doc_ids=[pair.doc_id],
                dataset="medquad",
            )


def iter_pairs(path: Path, on_error: OnError) -> Iterator[QAPair]:
    """Yield every answered question-answer pair under ``path``.

    A file that is not well-formed XML is reported through ``on_error`` and skipped.

    Raises:
        IngestError: ``path`` is neither an XML file nor a folder holding one.
    """
    files = sorted(path.rglob("*.xml")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise IngestError("no MedQuAD XML file found", location=str(path))
    for file in files:
        try:
            root = ET.parse(file).getroot()
        except (ET.ParseError, OSError) as exc:
            on_error(RecordError(str(file), f"not well-formed XML: {exc}"))
            continue
        tags = {node.tag.lower(): node for node in root.iter()}
        focus_el = tags["focus"] if "focus" in tags else tags.get("doctitle-focus")
        focus = " ".join("".join(focus_el.itertext()).split()) if focus_el is not None else ""
        source, url = root.get("source") or root.get("corpus") or "unknown", root.get("url")
        pairs = [node for node in root.iter() if node.tag.lower() in ("qapair", "pair")]
        for number, element in enumerate(pairs, start=1):
            children = {child.tag.lower(): child for child in element}
            question_el, answer_el = children.get("question"), children.get("answer")
            qid = pair_id(source, file.name.split(".")[0], element.get("pid") or str(number))
            location = f"{file}: question {qid}"
            question = " ".join("".join(question_el.itertext()).split()) if question_el is not None else ""
            answer = _clean("".join(answer_el.itertext())) if answer_el is not None else ""
            if not question:
                on_error(RecordError(location, "empty question"))
                continue
            if not answer:
                on_error(RecordError(location, "empty answer"))
                continue
            qtype = question_el.get("qtype", "") if question_el is not None else ""
            yield QAPair(qid, qtype, question, answer, focus, source, url, file)


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
