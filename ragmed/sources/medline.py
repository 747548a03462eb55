"""MEDLINE tagged text ("PMID- / TI  - / AB  - / MH  -", the PubMed "MEDLINE" export and .nbib)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragmed.sources.base import OnError
from ragmed.sources.files import read_text
from ragmed.sources.layout import TextBuilder, iso_date, language_code, loose_date
from ragmed.types import Document, RecordError

PUBMED_LICENCE = "Courtesy of the U.S. National Library of Medicine"

#: Publication types from the most to the least telling about the kind of evidence.
DOC_TYPE_ORDER = (
    "Retraction of Publication", "Meta-Analysis", "Systematic Review", "Practice Guideline", "Guideline",
    "Consensus Development Conference", "Randomized Controlled Trial", "Pragmatic Clinical Trial",
    "Controlled Clinical Trial", "Clinical Trial, Phase IV", "Clinical Trial, Phase III",
    "Clinical Trial, Phase II", "Clinical Trial, Phase I", "Clinical Trial", "Observational Study",
    "Multicenter Study", "Comparative Study", "Validation Study", "Validation Studies", "Evaluation Study",
    "Evaluation Studies", "Case Reports",
    "Review", "Published Erratum", "Editorial", "Letter", "Comment", "News",
)
_NOT_A_KIND = ("Journal Article", "English Abstract", "Retracted Publication", "Research Support")

_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)$")
_LABEL = re.compile(r"(?:^|(?<=[.!?] ))([A-Z][A-Z0-9 ,&/()\-]{2,60}): ")


def pubmed_url(pmid: str) -> str:
    """The PubMed page of ``pmid``."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


def pick_doc_type(types: list[str]) -> str | None:
    """Choose the publication type that best says what kind of evidence a citation is.

    Args:
        types: the record's MEDLINE publication types, e.g. ["Journal Article", "Review"].

    Returns:
        The first of ``DOC_TYPE_ORDER`` present, else the first type that names a kind of
        article, else "Journal Article" when listed, else ``None``.
    """
    present = set(types)
    for kind in DOC_TYPE_ORDER:
        if kind in present:
            return kind
    for kind in types:
        if not kind.startswith(_NOT_A_KIND):
            return kind
    return "Journal Article" if "Journal Article" in present else None


def split_labelled(abstract: str) -> list[tuple[str | None, str]]:
    """Split "BACKGROUND: ... RESULTS: ..." into labelled parts; one unlabelled part otherwise."""
    matches = list(_LABEL.finditer(abstract))
    if not matches or matches[0].start() != 0:
        return [(None, abstract)]
    parts = []
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(abstract)
        parts.append((match.group(1).strip(), abstract[match.end():end].strip()))
    return parts


@dataclass
class MedlineReader:
    """Reads MEDLINE tagged text, one ``Document`` per record with an abstract.

    Records are separated by blank lines; continuation lines are indented. Labels inside the
    abstract ("BACKGROUND: ...") become sections. A record without a PMID or without an
    abstract is reported through ``on_error`` (file, line and PMID) and skipped.

    Example:
        >>> docs = list(MedlineReader().read(Path("pubmed-result.txt"), print))
    """

    name: str = "medline"
    suffixes: tuple[str, ...] = (".nbib", ".medline", ".txt")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read every record of ``path``.

        Args:
            path: a MEDLINE-format text file (``.gz`` accepted).
            on_error: receives a ``RecordError`` for each skipped record or unreadable line.

        Returns:
            An iterator of documents in file order.

        Raises:
            IngestError: the file cannot be read or is not UTF-8.
        """
        for line, fields in _records(read_text(path), path, on_error):
            document = _document(fields, f"{path}:{line}", on_error)
            if document is not None:
                yield document


def _records(text: str, path: Path, on_error: OnError) -> Iterator[tuple[int, dict[str, list[str]]]]:
    fields: dict[str, list[str]] = {}
    tag: str | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if fields:
                yield start, fields
            fields, tag = {}, None
            continue
        if line[:1].isspace() and tag:
            fields[tag][-1] += " " + line.strip()
            continue
        match = _TAG.match(line)
        if not match:
            on_error(RecordError(f"{path}:{number}", f"not a MEDLINE tag line: {line[:60]!r}; ignored"))
            continue
        if not fields:
            start = number
        tag = match.group(1)
        fields.setdefault(tag, []).append(match.group(2).strip())
    if fields:
        yield start, fields


def _document(fields: dict[str, list[str]], where: str, on_error: OnError) -> Document | None:
    def first(tag: str) -> str:
        return fields.get(tag, [""])[0]

    pmid = first("PMID")
    if not pmid:
        on_error(RecordError(where, "record without a PMID; skipped"))
        return None
    abstract = " ".join(fields.get("AB", [])).strip()
    title = first("TI") or first("BTI") or first("TT")
    if not abstract:
        on_error(RecordError(f"{where} PMID {pmid}", f"no abstract text (title only: {title[:80]!r}); skipped"))
        return None
    builder = TextBuilder()
    for label, content in split_labelled(abstract):
        if label:
            builder.labelled(label, content)
        else:
            builder.section("Abstract")
            builder.add(content)
    text, sections = builder.build()
    types = fields.get("PT", [])
    headings = fields.get("MH", [])
    ids = [value.rsplit(" [", 1) for value in fields.get("AID", []) + fields.get("LID", [])]
    dep = first("DEP")
    return Document(
        id=f"pmid:{pmid}", source="pubmed", title=title, text=text, url=pubmed_url(pmid),
        licence=PUBMED_LICENCE, date=loose_date(first("DP")) or iso_date(dep[:4], dep[4:6], dep[6:8]),
        doc_type=pick_doc_type(types), language="en", sections=sections,
        metadata={
            "pmid": pmid,
            "doi": next((value for value, *kind in ids if kind == ["doi]"]), None),
            "pmcid": first("PMC") or None,
            "journal": first("JT") or None,
            "journal_abbrev": first("TA") or None,
            "authors": fields.get("AU", []),
            "mesh": [h.split("/")[0].lstrip("*") for h in headings],
            "mesh_major": [h.split("/")[0].lstrip("*") for h in headings if "*" in h],
            "keywords": fields.get("OT", []),
            "publication_types": types,
            "article_languages": [language_code(code) for code in fields.get("LA", [])],
            "status": first("STAT") or None,
            "retracted": "Retracted Publication" in types or any(
                c.startswith("Retraction in") for c in fields.get("RIN", [])),
        },
    )
