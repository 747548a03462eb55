"""Streaming XML records and reading their text, for the PubMed, PMC and MedQuAD readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from ragmed.errors import IngestError
from ragmed.sources.files import GZIP_ERRORS, open_binary
from ragmed.sources.layout import clean

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Inline elements that pretty-printing tools push onto a new line ("β\n\t<sub>2</sub>" is "β2").
_TIGHT = frozenset({"sub", "sup"})
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
# Links whose text is empty show their target.
_LINKS = frozenset({"ext-link", "uri", "self-uri"})


def local_name(tag: object) -> str:
    """The tag without its namespace ("{ns}math" -> "math"); "" for comments and processing instructions."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def element_text(element: ET.Element | None, skip: frozenset[str] = frozenset()) -> str:
    """All text inside ``element`` with whitespace collapsed, leaving out subtrees named in ``skip``.

    ``skip`` holds local names (without namespace); the text that follows a skipped element is kept.
    """
    if element is None:
        return ""
    if not len(element):
        return clean(element.text)
    pieces: list[str] = []
    _collect(element, skip, pieces)
    return clean("".join(pieces))


def _collect(element: ET.Element, skip: frozenset[str], pieces: list[str]) -> None:
    if element.text:
        pieces.append(element.text)
    for child in element:
        name = local_name(child.tag)
        if name in _TIGHT and pieces and "\n" in pieces[-1][len(pieces[-1].rstrip()):]:
            pieces[-1] = pieces[-1].rstrip()
        if name in _LINKS and not "".join(child.itertext()).strip() and child.get(XLINK_HREF):
            pieces.append(child.get(XLINK_HREF, ""))
        elif name not in skip:
            _collect(child, skip, pieces)
        if child.tail:
            pieces.append(child.tail)


def stream_records(path: Path, record_tags: frozenset[str]) -> Iterator[ET.Element]:
    """Yield each element named in ``record_tags`` once it is complete, then free it.

    The file is parsed incrementally (``iterparse``, end events only), so memory stays flat on
    large files: each record is cleared after the caller is done with it. Record tags must not
    nest. Malformed XML raises ``ET.ParseError`` (or a gzip error) after the good records before
    it were yielded.
    """
    with open_binary(path) as handle:
        for _, element in ET.iterparse(handle, events=("end",)):
            if element.tag in record_tags:
                yield element
                element.clear()


def xml_root(head: bytes) -> str | None:
    """The root element's name in the first bytes of an XML file (prolog, doctype and comments skipped)."""
    match = _ROOT_TAG.search(_COMMENT.sub(b"", head))
    return match.group(1).decode("ascii", "replace") if match else None


def parse_error(path: Path, error: Exception, after: str | None) -> IngestError:
    """An ``IngestError`` for malformed XML or damaged gzip, naming line, column and the last good record."""
    where = ""
    if isinstance(error, ET.ParseError):
        line, column = error.position
        where = f" at line {line}, column {column}"
        kind = "malformed XML"
    else:
        kind = "damaged gzip data"
    context = f" (after record {after})" if after else " (before the first record)"
    return IngestError(f"{kind}{where}{context}: {error}", location=str(path))


#: What ``stream_records`` can raise on a bad file.
STREAM_ERRORS = (ET.ParseError, *GZIP_ERRORS)
