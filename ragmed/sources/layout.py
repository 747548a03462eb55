"""Text assembly shared by the readers: whitespace, labelled sections and dates.

Every reader lays a record out the same way: blocks (paragraphs, headings, ``LABEL: content``
abstract parts) joined by a blank line, and ``(label, start, end)`` spans that index into the
finished text. A span starts at its heading or label, so ``text[start:end]`` begins with what the
source shows for that section.
"""

from __future__ import annotations

import re

BLOCK_SEPARATOR = "\n\n"

_MONTHS = {name: index for index, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d)")

LANGUAGES = {
    "eng": "en", "fre": "fr", "fra": "fr", "ger": "de", "deu": "de", "spa": "es", "ita": "it",
    "dut": "nl", "nld": "nl", "por": "pt", "rus": "ru", "chi": "zh", "zho": "zh", "jpn": "ja",
    "kor": "ko", "pol": "pl", "swe": "sv", "dan": "da", "nor": "no", "fin": "fi", "cze": "cs",
    "ces": "cs", "hun": "hu", "tur": "tr", "gre": "el", "ell": "el", "heb": "he", "ara": "ar",
    "per": "fa", "fas": "fa", "ukr": "uk", "geo": "ka", "kat": "ka", "rum": "ro", "ron": "ro",
}


def clean(text: str | None) -> str:
    """Collapse every run of whitespace (newlines and no-break spaces included) to one space."""
    return " ".join(text.split()) if text else ""


def clean_paragraphs(text: str | None) -> str:
    """Normalise whitespace but keep the line structure.

    Lines are stripped and their inner whitespace collapsed; blank lines separate paragraphs
    (joined by one blank line); lines inside a paragraph stay on their own lines.
    """
    if not text:
        return ""
    paragraphs = re.split(r"\n[ \t\r\f\v\u00a0]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = ["\n".join(filter(None, (clean(line) for line in p.split("\n")))) for p in paragraphs]
    return BLOCK_SEPARATOR.join(p for p in cleaned if p)


def language_code(code: str | None) -> str | None:
    """Map a MEDLINE three-letter language code ("eng") to ISO 639-1 ("en") where known."""
    if not code:
        return None
    code = code.strip().lower()
    return LANGUAGES.get(code, code or None)


def iso_date(year: str | int | None, month: str | int | None = None, day: str | int | None = None) -> str | None:
    """Build ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` from loose parts.

    Month may be a number, an English name or abbreviation, or a season. Parts that cannot be
    read are dropped from the right, so a bad day still gives ``YYYY-MM``.

    Returns:
        The ISO date, or ``None`` when no four-digit year is present.
    """
    match = _YEAR.search(str(year or ""))
    if not match:
        return None
    parts = [match.group(1)]
    month_number = _month(month)
    if month_number:
        parts.append(f"{month_number:02d}")
        day_text = str(day or "").strip()
        if day_text.isdigit() and 1 <= int(day_text) <= 31:
            parts.append(f"{int(day_text):02d}")
    return "-".join(parts)


def _month(month: str | int | None) -> int | None:
    text = str(month or "").strip().lower()
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    return _MONTHS.get(text[:3]) or _SEASONS.get(text)


def loose_date(text: str | None) -> str | None:
    """Read free-text dates such as "2006 Jan 10", "1998 Dec-1999 Jan" or "2000 Spring".

    Returns:
        The ISO form of the first date in ``text`` (see ``iso_date``), or ``None``.
    """
    words = re.split(r"[\s\-/,]+", (text or "").strip())
    if not words or not _YEAR.fullmatch(words[0]):
        return iso_date(text)
    month = words[1] if len(words) > 1 else None
    day = words[2] if len(words) > 2 and month and _month(month) and not _YEAR.fullmatch(words[2]) else None
    return iso_date(words[0], month, day)


class TextBuilder:
    """Lays blocks out into one text and records section spans.

    Example:
        >>> b = TextBuilder()
        >>> b.labelled("BACKGROUND", "Why we looked.")
        >>> b.labelled("RESULTS", "What we found.")
        >>> text, sections = b.build()
        >>> text[sections[1][1]:sections[1][2]]
        'RESULTS: What we found.'
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.sections: list[tuple[str, int, int]] = []
        self._label: str | None = None
        self._start = 0
        self._end: int | None = None

    def add(self, block: str) -> None:
        """Append one block (already cleaned); empty blocks are ignored."""
        if not block:
            return
        start = self._append(block)
        self._end = start + len(block)

    def section(self, label: str, heading: str | None = None) -> None:
        """Close the open section and open ``label``, writing ``heading`` as its first block.

        A section that receives no block after its heading gets no span; its heading is then
        taken into the span of the next section that has content.
        """
        empty = self._label is not None and self._end is None
        self._close()
        start = self._start if empty else self._length + (len(BLOCK_SEPARATOR) if self._parts else 0)
        if heading:
            self._append(heading)
        self._label, self._start, self._end = label, start, None

    def labelled(self, label: str, content: str) -> None:
        """Add a section written as ``LABEL: content`` (structured abstracts)."""
        if content:
            self.section(label)
            self.add(f"{label}: {content}")

    def end_section(self) -> None:
        """Close the open section so that later blocks carry no label."""
        self._close()
        self._label = None

    def build(self) -> tuple[str, list[tuple[str, int, int]]]:
        """Return the text and its section spans, in text order."""
        self._close()
        self._label = None
        return "".join(self._parts), list(self.sections)

    @property
    def empty(self) -> bool:
        """Whether no block has been added yet."""
        return not self._parts

    def _append(self, block: str) -> int:
        if self._parts:
            self._parts.append(BLOCK_SEPARATOR)
            self._length += len(BLOCK_SEPARATOR)
        start = self._length
        self._parts.append(block)
        self._length += len(block)
        return start

    def _close(self) -> None:
        if self._label is not None and self._end is not None:
            self.sections.append((self._label, self._start, self._end))
        self._end = None
