"""Source readers: one per format, chosen by name or by looking at the file.

Example:
    >>> from ragmed.sources import read_path
    >>> errors = []
    >>> docs = list(read_path("tests/fixtures/literature", on_error=errors.append))

Formats (``FORMATS``): pubmed, medline, pmc, pubmedqa, medquad, medlineplus, jsonl, csv, text, pdf.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError
from ragmed.sources.base import OnError, Reader
from ragmed.sources.files import base_suffix, read_head
from ragmed.sources.medline import MedlineReader
from ragmed.sources.medlineplus import MedlinePlusReader
from ragmed.sources.medquad import ROOT_TAGS as MEDQUAD_ROOTS
from ragmed.sources.medquad import MedQuADReader
from ragmed.sources.pdf import PdfReader
from ragmed.sources.pmc import PmcReader
from ragmed.sources.pubmed import PubMedReader
from ragmed.sources.pubmedqa import PubMedQAReader
from ragmed.sources.tabular import CsvReader, JsonlReader
from ragmed.sources.text import TextReader
from ragmed.sources.xmltools import xml_root
from ragmed.types import Document, IngestReport, RecordError

__all__ = ["FORMATS", "READERS", "Reader", "OnError", "read_path", "read_sources", "reader_for", "sniff_format"]

#: Reader classes by format name; each takes its options as keyword arguments.
READERS: dict[str, type] = {
    "pubmed": PubMedReader, "medline": MedlineReader, "pmc": PmcReader, "pubmedqa": PubMedQAReader,
    "medquad": MedQuADReader, "medlineplus": MedlinePlusReader, "jsonl": JsonlReader, "csv": CsvReader,
    "text": TextReader, "pdf": PdfReader,
}
FORMATS: tuple[str, ...] = tuple(READERS)

_XML_ROOTS = {"PubmedArticleSet": "pubmed", "MedlineCitationSet": "pubmed", "PubmedBookArticleSet": "pubmed",
              "article": "pmc", "pmc-articleset": "pmc", "health-topics": "medlineplus",
              **{tag: "medquad" for tag in MEDQUAD_ROOTS}}
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".pdf": "pdf",
              ".nbib": "medline", ".medline": "medline", ".nxml": "pmc", ".md": "text", ".markdown": "text",
              ".html": "text", ".htm": "text", ".xhtml": "text", ".text": "text"}


def supported() -> str:
    """Format names with their suffixes, for error messages."""
    return "; ".join(f"{name} ({', '.join(cls().suffixes)})" for name, cls in READERS.items())


def sniff_format(path: Path) -> str | None:
    """Guess the format of ``path`` from its suffix and, for XML, JSON and text, its first bytes.

    Returns:
        A name from ``FORMATS``, or ``None`` when the file is not a supported format.
    """
    suffix = base_suffix(path)
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix == ".xml":
        return _XML_ROOTS.get(_xml_root(path) or "")
    if suffix == ".json":
        return "pubmedqa" if re.search(rb'"(QUESTION|CONTEXTS)"\s*:', read_head(path)) else None
    if suffix == ".txt":
        head = read_head(path, 4096).lstrip()
        return "medline" if re.match(rb"PMID- ?\d", head) else "text"
    return None


def _xml_root(path: Path) -> str | None:
    return xml_root(read_head(path))


def reader_for(path: str | Path, format: str | None = None, **options: Any) -> Reader:
    """The reader for ``path``: the named ``format``, or the one that ``sniff_format`` finds.

    Args:
        path: the file to read.
        format: a name from ``FORMATS``; ``None`` to decide from the file.
        **options: reader options (``include_conclusion`` for pubmedqa, ``root`` for file ids...);
            options a reader does not take are ignored.

    Returns:
        A reader instance.

    Raises:
        IngestError: unknown format name, or a file of no supported format (names the file and
            the supported formats).
    """
    path = Path(path)
    if format is not None and format not in READERS:
        raise IngestError(f"unknown format {format!r}; supported formats: {', '.join(FORMATS)}", location=str(path))
    if not path.is_file():
        raise IngestError("no such file", location=str(path))
    name = format or sniff_format(path)
    if name is None:
        suffix = base_suffix(path)
        root = _xml_root(path) if suffix == ".xml" else None
        what = (f"XML with root <{root}>" if root else "no XML root element found" if suffix == ".xml"
                else f"suffix {suffix!r}" if suffix else "no suffix")
        raise IngestError(f"unsupported file format ({what}); supported formats: {supported()}", location=str(path))
    cls = READERS[name]
    accepted = {field.name for field in dataclasses.fields(cls)}
    reader: Reader = cls(**{key: value for key, value in options.items() if key in accepted})
    return reader


def read_path(path: str | Path, format: str | None = None, on_error: OnError | None = None,
              **options: Any) -> Iterator[Document]:
    """Read a file, or every file under a folder (recursively, in name order, hidden files skipped).

    With ``on_error``, bad records and unreadable or unsupported files in a folder are reported
    there and reading goes on; without it the first problem raises. With ``format`` given, a
    folder walk takes only files with that reader's suffixes.

    Args:
        path: a file or folder.
        format: a name from ``FORMATS``, or ``None`` to sniff each file.
        on_error: receives a ``RecordError`` for each skipped record or file.
        **options: reader options, see ``reader_for``.

    Returns:
        An iterator of documents.

    Raises:
        IngestError: the path does not exist, the format name is unknown, a single file is of no
            supported format, or (without ``on_error``) any record or file fails.
    """
    path = Path(path)
    if not path.exists():
        raise IngestError("no such file or folder", location=str(path))
    if format is not None and format not in READERS:
        raise IngestError(f"unknown format {format!r}; supported formats: {', '.join(FORMATS)}", location=str(path))
    report = on_error or _raise
    if path.is_file():
        reader = reader_for(path, format, **{"root": path.parent, **options})
        yield from _read_file(reader, path, report, on_error is not None)
        return
    for file in _walk(path):
        if format is not None and not file.name.lower().endswith(READERS[format]().suffixes):
            continue
        try:
            reader = reader_for(file, format, **{"root": path, **options})
        except IngestError as exc:
            report(RecordError(exc.location or str(file), str(exc).removeprefix(f"{exc.location}: ")))
            continue
        yield from _read_file(reader, file, report, on_error is not None)


def _walk(folder: Path) -> Iterator[Path]:
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_dir():
            yield from _walk(item)
        elif item.is_file():
            yield item


def _read_file(reader: Reader, path: Path, report: OnError, keep_going: bool) -> Iterator[Document]:
    try:
        yield from reader.read(path, report)
    except IngestError as exc:
        if not keep_going:
            raise
        report(RecordError(exc.location or str(path), str(exc).removeprefix(f"{exc.location}: ")))


def _raise(error: RecordError) -> None:
    raise IngestError(error.message, location=error.location)


def read_sources(paths: Sequence[str | Path], report: IngestReport, fmt: str | None = None) -> Iterator[Document]:
    """Documents of every file or folder in ``paths``; bad records and unreadable paths land in ``report.errors``."""
    for path in paths:
        try:
            yield from read_path(Path(path), fmt, report.errors.append)
        except IngestError as exc:
            report.errors.append(RecordError(exc.location or str(path), str(exc)))
        except FileNotFoundError as exc:
            report.errors.append(RecordError(str(path), f"no such file or folder: {exc.filename or path}"))
