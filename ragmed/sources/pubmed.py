"""PubMed/MEDLINE citation XML (``PubmedArticleSet``, ``MedlineCitationSet``), plain or ``.gz``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragmed.sources.base import OnError
from ragmed.sources.files import read_head
from ragmed.sources.layout import TextBuilder, iso_date, language_code, loose_date
from ragmed.sources.medline import PUBMED_LICENCE, pick_doc_type, pubmed_url
from ragmed.sources.xmltools import (
    STREAM_ERRORS,
    element_text,
    parse_error,
    stream_records,
    xml_root,
)
from ragmed.types import Document, RecordError

ARTICLE_TAGS = frozenset({"PubmedArticle", "PubmedBookArticle"})
CITATION_TAGS = frozenset({"MedlineCitation"})


@dataclass
class PubMedReader:
    """Reads PubMed/MEDLINE citation XML as streamed by efetch or the annual baseline files.

    One ``Document`` per citation with an abstract: ``id`` "pmid:NNN", the abstract as text
    (structured abstracts as ``LABEL: content`` blocks, each a section), the publication type
    that best says what kind of evidence it is as ``doc_type``, and MeSH headings, authors,
    journal, DOI and PMCID in ``metadata``. A citation without abstract text is reported
    through ``on_error`` and skipped.

    Example:
        >>> docs = list(PubMedReader().read(Path("pubmed24n0001.xml.gz"), print))
    """

    name: str = "pubmed"
    suffixes: tuple[str, ...] = (".xml", ".xml.gz")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Stream the citations of ``path``.

        Args:
            path: a PubMed XML file, optionally gzipped.
            on_error: receives a ``RecordError`` (file and PMID) for each skipped citation.

        Returns:
            An iterator of documents, in file order.

        Raises:
            IngestError: the file cannot be opened, or its XML or gzip stream is broken (names
                the line and the last good PMID; the citations before it were yielded).
        """
        last: str | None = None
        tags = CITATION_TAGS if xml_root(read_head(path)) == "MedlineCitationSet" else ARTICLE_TAGS
        try:
            for record in stream_records(path, tags):
                document = self._document(record, path, last, on_error)
                if document is not None:
                    last = document.metadata["pmid"]
                    yield document
                else:
                    last = _pmid(record) or last
        except STREAM_ERRORS as exc:
            raise parse_error(path, exc, f"PMID {last}" if last else None) from exc

    def _document(self, record: ET.Element, path: Path, last: str | None,
                  on_error: OnError) -> Document | None:
        citation = record if record.tag == "MedlineCitation" else record.find("MedlineCitation")
        if citation is None:
            citation = record.find("BookDocument")
        pmid = _pmid(record)
        if citation is None or not pmid:
            after = f" after PMID {last}" if last else ""
            on_error(RecordError(str(path), f"{record.tag} without a PMID{after}; skipped"))
            return None
        article = citation.find("Article")
        if article is None:
            article = citation
        title = element_text(article.find("ArticleTitle")) or element_text(article.find("VernacularTitle")) \
            or element_text(citation.find("Book/BookTitle"))
        abstract = article.find("Abstract")
        text, sections = _abstract(abstract if abstract is not None else citation.find("Abstract"))
        language = "en"
        for other in citation.iterfind("OtherAbstract"):
            if not text:
                text, sections = _abstract(other)
                language = language_code(other.get("Language")) or "und"
        if not text:
            on_error(RecordError(f"{path} PMID {pmid}", f"no abstract text (title only: {title[:80]!r}); skipped"))
            return None
        types = [element_text(t) for t in article.iter("PublicationType")]
        return Document(
            id=f"pmid:{pmid}", source="pubmed", title=title, text=text, url=pubmed_url(pmid),
            licence=PUBMED_LICENCE, date=_date(citation, article), doc_type=pick_doc_type(types),
            language=language, sections=sections, metadata=_metadata(record, citation, article, pmid, types),
        )


def _pmid(record: ET.Element) -> str:
    for path in ("PMID", "MedlineCitation/PMID", "BookDocument/PMID"):
        text = record.findtext(path)
        if text and text.strip():
            return text.strip()
    return ""


def _abstract(abstract: ET.Element | None) -> tuple[str, list[tuple[str, int, int]]]:
    builder = TextBuilder()
    if abstract is None:
        return builder.build()
    parts = [(p.get("Label") or _category(p), element_text(p)) for p in abstract.findall("AbstractText")]
    parts = [(label, text) for label, text in parts if text]
    if not any(label for label, _ in parts):
        builder.section("Abstract")
        for _, text in parts:
            builder.add(text)
        return builder.build()
    for label, text in parts:
        if label:
            builder.labelled(label.strip(), text)
        else:
            builder.section("Abstract")
            builder.add(text)
    return builder.build()


def _category(part: ET.Element) -> str | None:
    category = part.get("NlmCategory")
    return category if category and category != "UNASSIGNED" else None


def _date(citation: ET.Element, article: ET.Element) -> str | None:
    pub = article.find("Journal/JournalIssue/PubDate")
    if pub is not None:
        medline = pub.findtext("MedlineDate")
        date = loose_date(medline) if medline else iso_date(
            pub.findtext("Year"), pub.findtext("Month") or pub.findtext("Season"), pub.findtext("Day"))
        if date:
            return date
    for node in (article.find("ArticleDate"), citation.find("DateCompleted"), citation.find("DateCreated")):
        if node is not None and (date := iso_date(node.findtext("Year"), node.findtext("Month"), node.findtext("Day"))):
            return date
    return None


def _metadata(record: ET.Element, citation: ET.Element, article: ET.Element, pmid: str,
              types: list[str]) -> dict[str, object]:
    ids = {i.get("IdType"): (i.text or "").strip() for i in record.iterfind("PubmedData/ArticleIdList/ArticleId")}
    doi = ids.get("doi") or next((element_text(e) for e in article.iterfind("ELocationID")
                                  if e.get("EIdType") == "doi"), "")
    headings = list(citation.iterfind("MeshHeadingList/MeshHeading"))
    corrections = {c.get("RefType") for c in citation.iterfind("CommentsCorrectionsList/CommentsCorrections")}
    metadata: dict[str, object] = {
        "pmid": pmid,
        "doi": doi or None,
        "pmcid": ids.get("pmc") or None,
        "journal": element_text(article.find("Journal/Title")) or None,
        "journal_abbrev": element_text(article.find("Journal/ISOAbbreviation"))
        or element_text(citation.find("MedlineJournalInfo/MedlineTA")) or None,
        "authors": [name for a in article.iterfind("AuthorList/Author") if (name := _author(a))],
        "mesh": [name for h in headings if (name := element_text(h.find("DescriptorName")))],
        "mesh_ui": [d.get("UI", "") for h in headings if (d := h.find("DescriptorName")) is not None],
        "mesh_major": [element_text(h.find("DescriptorName")) for h in headings
                       if any(n.get("MajorTopicYN") == "Y" for n in h)],
        "keywords": [element_text(k) for k in citation.iterfind("KeywordList/Keyword") if element_text(k)],
        "chemicals": [element_text(c) for c in citation.iterfind("ChemicalList/Chemical/NameOfSubstance")],
        "publication_types": types,
        "article_languages": [language_code(element_text(n)) for n in article.iterfind("Language")],
        "status": citation.get("Status"),
        "retracted": "Retracted Publication" in types or "RetractionIn" in corrections,
    }
    copyright_note = element_text(article.find("Abstract/CopyrightInformation"))
    if copyright_note:
        metadata["copyright"] = copyright_note
    return metadata


def _author(author: ET.Element) -> str:
    collective = element_text(author.find("CollectiveName"))
    if collective:
        return collective
    last = element_text(author.find("LastName"))
    initials = element_text(author.find("Initials")) or element_text(author.find("ForeName"))
    return f"{last} {initials}".strip()
