"""HTML to text with heading sections, using only the standard library's ``html.parser``."""

from __future__ import annotations

from html.parser import HTMLParser

from ragmed.sources.layout import TextBuilder, clean

#: Elements whose content is never text for readers.
SKIPPED = frozenset({"script", "style", "nav", "noscript", "template", "svg", "iframe", "head", "form", "button"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCKS = frozenset({
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "br", "hr", "tr", "table", "section", "article",
    "main", "blockquote", "pre", "figcaption", "figure", "header", "footer", "aside", "address",
    "caption", "td", "th", "details", "summary",
})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"})


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = TextBuilder()
        self.title = ""
        self.first_h1 = ""
        self._skip_depth = 0
        self._in_title = False
        self._heading: str | None = None
        self._bullet = False
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in BLOCKS and not self._skip_depth:
                self._flush()
            return
        if tag == "title":
            self._in_title = True
            return
        if tag == "body":
            self._skip_depth = 0
        if tag in SKIPPED:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in HEADINGS or tag in BLOCKS:
            self._flush()
            if tag in HEADINGS:
                self._heading = tag
            self._bullet = tag == "li"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if tag in SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag in HEADINGS or tag in BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip_depth:
            self._buffer.append(data)

    def _flush(self) -> None:
        text = clean("".join(self._buffer))
        self._buffer = []
        heading, self._heading = self._heading, None
        bullet, self._bullet = self._bullet, False
        if not text:
            return
        if heading:
            if heading == "h1" and not self.first_h1:
                self.first_h1 = text
            self.builder.section(text, heading=text)
        else:
            self.builder.add(f"- {text}" if bullet else text)

    def close(self) -> None:
        super().close()
        self._flush()


def parse_html(markup: str) -> tuple[str, str, list[tuple[str, int, int]]]:
    """Extract readable text from HTML.

    Scripts, styles, navigation, forms and the ``<head>`` are dropped; block elements become
    paragraphs; each ``h1``-``h6`` starts a section labelled with its text.

    Args:
        markup: the HTML document.

    Returns:
        ``(title, text, sections)``; the title is ``<title>``, else the first ``h1``, else "".
    """
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    text, sections = parser.builder.build()
    return clean(parser.title) or parser.first_h1, text, sections
