"""PDF files through pypdf: page texts joined, each page a section ("page 3")."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError, require
from ragmed.sources.base import OnError
from ragmed.sources.files import file_id
from ragmed.sources.layout import TextBuilder, clean, clean_paragraphs, iso_date
from ragmed.types import Document, RecordError

_WORD = re.compile(r"[A-Za-z]{4,}")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_GENERIC_TITLES = re.compile(r"^(untitled|microsoft word|document\d*|slide \d+)\b", re.IGNORECASE)


def garbled(text: str) -> bool:
    """Whether extracted page text looks like glyph codes rather than words.

    PDFs whose fonts lack a Unicode map extract as strings such as "OpblvogpvtgIlpambmg": words
    in mixed case or without vowels. A page is garbled when most of its words look so.
    """
    words = _WORD.findall(text)
    if len(words) < 3:
        return False
    odd = sum(1 for w in words if not (w.islower() or w.isupper() or w.istitle()) or not _VOWEL.search(w))
    return odd / len(words) > 0.5


@dataclass
class PdfReader:
    """Reads a PDF with pypdf into one ``Document``.

    Pages are joined by a blank line and each non-empty page is a section labelled "page N"
    (N counts from 1). The title is the PDF's own title metadata, else the first line. A page
    whose text cannot be extracted, or extracts as glyph codes, is reported and left out.

    Example:
        >>> doc = next(PdfReader().read(Path("guideline.pdf"), print))
        >>> doc.sections[0]
    """

    name: str = "pdf"
    suffixes: tuple[str, ...] = (".pdf",)
    root: Path | None = None
    source: str = "file"

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read one PDF file.

        Args:
            path: the PDF.
            on_error: receives a ``RecordError`` (file and page) for each page left out.

        Returns:
            An iterator with at most one document.

        Raises:
            IngestError: the file is not a readable PDF, is damaged, or is encrypted with a password.
            MissingDependencyError: pypdf is not installed.
        """
        pypdf = require("pypdf")
        errors = (pypdf.errors.PyPdfError, ValueError, KeyError, IndexError, TypeError, struct.error, zlib.error,
                  RecursionError)
        try:
            reader = pypdf.PdfReader(str(path))
            _unlock(reader, path)
            pages = reader.pages
            count = len(pages)
            info = _info(reader)
        except OSError as exc:
            raise IngestError(f"cannot open file: {exc.strerror or exc}", location=str(path)) from exc
        except errors as exc:
            raise IngestError(f"not a readable PDF: {exc}", location=str(path)) from exc
        texts: list[tuple[int, str]] = []
        for number in range(1, count + 1):
            try:
                text = clean_paragraphs(pages[number - 1].extract_text() or "")
            except errors as exc:
                on_error(RecordError(f"{path} page {number}", f"text extraction failed: {exc}; page left out"))
                continue
            if garbled(text):
                on_error(RecordError(f"{path} page {number}",
                                     "text extracts as glyph codes (font without a Unicode map); page left out"))
                continue
            if text:
                texts.append((number, text))
        if not texts:
            on_error(RecordError(str(path), f"no extractable text in {count} pages (scanned images?); skipped"))
            return
        yield _document(path, self, texts, info, count)


def _unlock(reader: Any, path: Path) -> None:
    if not reader.is_encrypted:
        return
    try:
        unlocked = reader.decrypt("")
    except NotImplementedError as exc:
        raise IngestError(f"encrypted PDF with an unsupported scheme: {exc}", location=str(path)) from exc
    if not unlocked:
        raise IngestError("encrypted PDF that needs a password", location=str(path))


def _info(reader: Any) -> dict[str, Any]:
    metadata = reader.metadata or {}
    return {key: metadata.get(key) for key in ("/Title", "/Author", "/Subject", "/Keywords", "/CreationDate")}


def _document(path: Path, reader: PdfReader, texts: list[tuple[int, str]], info: dict[str, Any],
              count: int) -> Document:
    builder = TextBuilder()
    for number, text in texts:
        builder.section(f"page {number}")
        builder.add(text)
    body, sections = builder.build()
    title = clean(str(info["/Title"] or ""))
    if not title or _GENERIC_TITLES.match(title):
        title = texts[0][1].split("\n", 1)[0][:200]
    created = str(info["/CreationDate"] or "").removeprefix("D:")
    metadata = {"file": path.name, "pages": count, "author": clean(str(info["/Author"] or "")) or None,
                "subject": clean(str(info["/Subject"] or "")) or None,
                "keywords": clean(str(info["/Keywords"] or "")) or None}
    return Document(
        id=file_id(path, reader.root), source=reader.source, title=title, text=body, url=None,
        licence=None, date=iso_date(created[:4], created[4:6], created[6:8]), doc_type=None, language="en",
        sections=sections, metadata=metadata,
    )
