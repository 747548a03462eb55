"""PMC full text in JATS/NLM XML (NLM 2.3 to JATS 1.3), one article or an efetch ``pmc-articleset``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragmed.sources.base import OnError
from ragmed.sources.files import file_id
from ragmed.sources.layout import TextBuilder, clean, iso_date
from ragmed.sources.medline import pubmed_url
from ragmed.sources.xmltools import (
    STREAM_ERRORS,
    XLINK_HREF,
    XML_LANG,
    element_text,
    local_name,
    parse_error,
    stream_records,
)
from ragmed.types import Document, RecordError

#: Subtrees that carry no running text (tables, formulas in TeX, media, footnotes).
INLINE_SKIP = frozenset({"table-wrap", "table", "fig", "tex-math", "annotation", "graphic", "media",
                         "supplementary-material", "fn", "object-id", "disp-formula", "ref-list"})
_CONTAINERS = frozenset({"boxed-text", "disp-quote", "statement", "app", "glossary"})
_MAIN_ABSTRACTS = (None, "summary", "executive-summary", "structured", "abstract")
_DATE_ORDER = ("epub", "ppub", "epub-ppub", "pub", "collection", "pmc-release")
_DOC_TYPES = {
    "research-article": "Journal Article", "review-article": "Review", "case-report": "Case Reports",
    "correction": "Published Erratum", "editorial": "Editorial", "letter": "Letter",
    "systematic-review": "Systematic Review", "meta-analysis": "Meta-Analysis",
    "retraction": "Retraction of Publication", "brief-report": "Journal Article", "news": "News",
}
_ALI_LICENSE_REF = "{http://www.niso.org/schemas/ali/1.0/}license_ref"


@dataclass
class PmcReader:
    """Reads PMC JATS articles: title, abstract and body sections, licence and identifiers.

    Abstract parts are written ``Label: content``; body section titles are written as heading
    lines and become the section labels. ``id`` is "pmcid:PMCnnn" (else "pmid:", "doi:" or the
    file name relative to ``root``).

    Example:
        >>> docs = list(PmcReader().read(Path("PMC5828200.nxml"), print))
    """

    name: str = "pmc"
    suffixes: tuple[str, ...] = (".nxml", ".xml", ".xml.gz", ".nxml.gz")
    root: Path | None = None

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read each ``<article>`` of ``path`` (a single article or an article set).

        Args:
            path: a JATS ``.nxml``/``.xml`` file, optionally gzipped.
            on_error: receives a ``RecordError`` for each article without any text.

        Returns:
            An iterator of documents in file order.

        Raises:
            IngestError: the file cannot be opened or its XML is malformed (names the line and the
                last good article).
        """
        last: str | None = None
        try:
            for ordinal, article in enumerate(stream_records(path, frozenset({"article"})), start=1):
                document = self._document(article, path, ordinal, on_error)
                last = document.id if document else f"#{ordinal}"
                if document is not None:
                    yield document
        except STREAM_ERRORS as exc:
            raise parse_error(path, exc, last) from exc

    def _document(self, article: ET.Element, path: Path, ordinal: int, on_error: OnError) -> Document | None:
        meta = article.find("front/article-meta")
        if meta is None:
            meta = ET.Element("article-meta")
        ids = {i.get("pub-id-type"): clean(i.text) for i in meta.iterfind("article-id")}
        pmcid = ids.get("pmc") or ids.get("pmcid") or ""
        pmcid = f"PMC{pmcid.removeprefix('PMC')}" if pmcid else ""
        pmid, doi = ids.get("pmid") or "", ids.get("doi") or ""
        doc_id = (f"pmcid:{pmcid}" if pmcid else f"pmid:{pmid}" if pmid else f"doi:{doi}" if doi
                  else file_id(path, self.root) + (f"#{ordinal}" if ordinal > 1 else ""))
        builder = TextBuilder()
        for abstract in meta.iterfind("abstract"):
            if abstract.get("abstract-type") in _MAIN_ABSTRACTS:
                _abstract(abstract, builder)
        body = article.find("body")
        if body is not None:
            builder.section("Body")
            _walk(body, builder, "Body")
        text, sections = builder.build()
        if not text:
            on_error(RecordError(f"{path} {doc_id}", "article without abstract or body text; skipped"))
            return None
        article_type = article.get("article-type") or ""
        url = (f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/" if pmcid else
               pubmed_url(pmid) if pmid else f"https://doi.org/{doi}" if doi else None)
        return Document(
            id=doc_id, source="pmc", title=element_text(meta.find("title-group/article-title"), INLINE_SKIP),
            text=text, url=url, licence=_licence(meta), date=_date(meta),
            doc_type=_DOC_TYPES.get(article_type, article_type.replace("-", " ").capitalize() or None),
            language=(article.get(XML_LANG) or "en").lower(), sections=sections,
            metadata={
                "pmcid": pmcid or None, "pmid": pmid or None, "doi": doi or None,
                "journal": element_text(article.find("front/journal-meta/journal-title-group/journal-title"))
                or element_text(article.find("front/journal-meta/journal-title")) or None,
                "authors": [a for c in meta.iterfind("contrib-group/contrib")
                            if c.get("contrib-type", "author") == "author" and (a := _author(c))],
                "keywords": [k for k in (element_text(k) for k in meta.iterfind("kwd-group/kwd")) if k],
                "subjects": [s for s in (element_text(s) for s in meta.iterfind("article-categories//subject")) if s],
                "article_type": article_type or None,
            },
        )


def _abstract(abstract: ET.Element, builder: TextBuilder) -> None:
    parts = abstract.findall("sec")
    if not parts:
        title = element_text(abstract.find("title"))
        builder.section(title or "Abstract", heading=title or None)
        for paragraph in abstract.iterfind("p"):
            builder.add(element_text(paragraph, INLINE_SKIP))
        return
    for part in parts:
        label = element_text(part.find("title")) or "Abstract"
        content = " ".join(element_text(p, INLINE_SKIP) for p in part.iter("p"))
        builder.labelled(label.rstrip(":"), clean(content))


def _walk(container: ET.Element, builder: TextBuilder, label: str) -> None:
    for child in container:
        name = local_name(child.tag)
        if name == "sec":
            title = element_text(child.find("title"), INLINE_SKIP)
            builder.section(title or label, heading=title or None)
            _walk(child, builder, title or label)
            builder.section(label)
        elif name == "p":
            builder.add(element_text(child, INLINE_SKIP))
        elif name in ("list", "def-list"):
            items = [element_text(item, INLINE_SKIP) for item in child
                     if local_name(item.tag) in ("list-item", "def-item")]
            builder.add("\n".join(f"- {item}" for item in items if item))
        elif name in ("fig", "table-wrap"):
            caption = element_text(child.find("caption"), INLINE_SKIP)
            if caption:
                builder.add(clean(f"{element_text(child.find('label'))} {caption}"))
        elif name in _CONTAINERS:
            _walk(child, builder, label)


def _licence(meta: ET.Element) -> str | None:
    permissions = meta.find("permissions")
    if permissions is None:
        permissions = meta
    license_ = permissions.find("license")
    if license_ is None:
        return element_text(permissions.find("copyright-statement")) or None
    url = license_.get(XLINK_HREF) or element_text(license_.find(f".//{_ALI_LICENSE_REF}"))
    text = element_text(license_, frozenset({"license_ref"}))
    if url and url not in text:
        text = f"{text} ({url})" if text else url
    return text or license_.get("license-type") or None


def _date(meta: ET.Element) -> str | None:
    dates = {d.get("pub-type") or d.get("date-type"): d for d in meta.iterfind("pub-date")}
    for kind in (*_DATE_ORDER, *dates):
        node = dates.get(kind)
        if node is not None:
            month = node.findtext("month") or node.findtext("season")
            date = iso_date(node.findtext("year"), month, node.findtext("day"))
            if date:
                return date
    return None


def _author(contrib: ET.Element) -> str:
    collab = element_text(contrib.find("collab"))
    if collab:
        return collab
    name = contrib.find("name")
    if name is None:
        return ""
    return clean(f"{element_text(name.find('surname'))} {element_text(name.find('given-names'))}")
