"""Plain text, Markdown and HTML files, one ``Document`` per file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragmed.errors import IngestError
from ragmed.sources.base import OnError
from ragmed.sources.files import base_suffix, file_id, read_text
from ragmed.sources.html import parse_html
from ragmed.sources.layout import clean, clean_paragraphs, loose_date
from ragmed.sources.markdown import parse_markdown
from ragmed.types import Document, RecordError

MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_FRONT_MATTER_FIELDS = ("title", "date", "source", "url", "licence", "license", "language", "doc_type")


@dataclass
class TextReader:
    """Reads ``.txt``, Markdown and HTML files.

    ``id`` is "file:<path relative to root>" (or "file:<name>" without a root). Markdown and
    HTML headings become sections; HTML scripts, styles and navigation are dropped. The title is
    the HTML ``<title>`` or first ``h1``, the Markdown front matter title or first heading, or
    the first line of a text file, falling back to the file name. A file with no text is
    reported through ``on_error``.

    Example:
        >>> docs = list(TextReader(root=Path("notes")).read(Path("notes/asthma.md"), print))
    """

    name: str = "text"
    suffixes: tuple[str, ...] = (".txt", ".text", *MARKDOWN_SUFFIXES, *HTML_SUFFIXES)
    root: Path | None = None
    source: str = "file"

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read one file.

        Args:
            path: a text, Markdown or HTML file (``.gz`` accepted).
            on_error: receives a ``RecordError`` when the file holds no text.

        Returns:
            An iterator with at most one document.

        Raises:
            IngestError: the file cannot be read, is not UTF-8, or has an unsupported suffix.
        """
        suffix = base_suffix(path)
        if suffix not in self.suffixes:
            raise IngestError(f"not a text, Markdown or HTML file (suffix {suffix!r}); "
                              f"expected one of {', '.join(self.suffixes)}", location=str(path))
        raw = read_text(path)
        fields: dict[str, str] = {}
        if suffix in HTML_SUFFIXES:
            title, text, sections = parse_html(raw)
            kind = "html"
        elif suffix in MARKDOWN_SUFFIXES:
            title, text, sections, fields = parse_markdown(raw)
            kind = "markdown"
        else:
            text, sections, kind = clean_paragraphs(raw), [], "text"
            first_line = text.split("\n", 1)[0] if text else ""
            title = first_line if len(first_line) <= 200 else ""
        if not text:
            on_error(RecordError(str(path), "no text in file; skipped"))
            return
        extra = {k: v for k, v in fields.items() if k not in _FRONT_MATTER_FIELDS}
        yield Document(
            id=file_id(path, self.root), source=fields.get("source") or self.source,
            title=clean(title) or path.name.split(".")[0], text=text, url=fields.get("url"),
            licence=fields.get("licence") or fields.get("license"), date=loose_date(fields.get("date")),
            doc_type=fields.get("doc_type"), language=fields.get("language") or "en", sections=sections,
            metadata={"file": path.name, "format": kind, **extra},
        )
