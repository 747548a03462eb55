"""Markdown to text with heading sections (ATX ``#`` and setext underlines; code fences respected)."""

from __future__ import annotations

import re

from ragmed.sources.layout import TextBuilder, clean, clean_paragraphs

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FRONT_FIELD = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")


def parse_markdown(source: str) -> tuple[str, str, list[tuple[str, int, int]], dict[str, str]]:
    """Lay Markdown out as text with one section per heading.

    Heading markers are removed and the heading text kept as the section's first line; other
    Markdown syntax is left as written. A leading ``---`` front-matter block of ``key: value``
    lines is returned as fields rather than text.

    Args:
        source: the Markdown document.

    Returns:
        ``(title, text, sections, front_matter)``; the title is front matter ``title``, else the
        first level-1 heading, else the first heading, else "".
    """
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    front, lines = _front_matter(lines)
    builder = TextBuilder()
    headings: list[tuple[int, str]] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        builder.add(clean_paragraphs("\n".join(paragraph)))
        paragraph.clear()

    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        if fenced or _FENCE.match(line):
            paragraph.append(line)
            continue
        atx = _ATX.match(line)
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if atx or (line.strip() and not paragraph and _SETEXT.match(following) and not _ATX.match(following)):
            flush()
            level = len(atx.group(1)) if atx else (1 if following.strip().startswith("=") else 2)
            text = clean(atx.group(2) if atx else line)
            if text:
                headings.append((level, text))
                builder.section(text, heading=text)
            continue
        if _SETEXT.match(line) and not paragraph:
            continue
        if line.strip():
            paragraph.append(line)
        else:
            flush()
    flush()
    text, sections = builder.build()
    title = front.get("title") or next((t for level, t in headings if level == 1), "") \
        or (headings[0][1] if headings else "")
    return title, text, sections, front


def _front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            fields = {}
            for line in lines[1:end]:
                match = _FRONT_FIELD.match(line.strip())
                if match:
                    fields[match.group(1).lower()] = match.group(2).strip().strip("\"'")
            return fields, lines[end + 1:]
    return {}, lines
