"""Sentence splitting with character offsets, shared by chunking, answering and citation checks."""

from __future__ import annotations

import re
import unicodedata

_ABBREVIATIONS = {
    "e.g", "i.e", "et al", "vs", "fig", "figs", "dr", "mr", "mrs", "ms", "no", "approx", "ca", "cf",
    "resp", "etc", "inc", "st", "mg", "ml", "dept", "univ", "al", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "e.g.", "spp", "sp", "ref", "refs",
}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n|\n")
_BULLET = re.compile(r"\s*(?:[-*\u2022\u25aa\u25cf]|\d{1,2}[.)])\s")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-']*|\d+(?:\.\d+)?")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences and return their ``(start, end)`` character spans.

    Spans exclude surrounding whitespace, so ``text[start:end]`` is the sentence itself.
    Common abbreviations ("e.g.", "et al.", "Fig.") and decimals do not end a sentence.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group(0) == "\n" and not _line_break_ends_sentence(text, match.start()):
            continue
        cut = match.start()
        before = text[max(start, cut - 12):cut].rstrip("\"')]").lower()
        last_word = re.split(r"[\s(]", before)[-1].rstrip(".") if before else ""
        abbreviation = last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        if abbreviation and (match.group(0).strip() == "" or "\n" not in match.group(0)):
            continue
        _append(text, start, match.end() if match.group(0).strip() == "" else cut, spans)
        start = match.end()
    _append(text, start, len(text), spans)
    return spans


def _line_break_ends_sentence(text: str, position: int) -> bool:
    """A single line break ends a sentence after a list (a bullet line followed by a non-bullet line)
    or after a line that ends a sentence; wrapped lines (as in PDFs) stay together."""
    line_start = text.rfind("\n", 0, position) + 1
    previous = text[line_start:position]
    next_end = text.find("\n", position + 1)
    following = text[position + 1:next_end if next_end >= 0 else len(text)]
    if not following.strip():
        return False
    if _BULLET.match(previous):
        return not _BULLET.match(following)
    return previous.rstrip().endswith((".", "!", "?")) and not _BULLET.match(following)


def _append(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    segment = text[start:end]
    stripped_left = len(segment) - len(segment.lstrip())
    stripped_right = len(segment) - len(segment.rstrip())
    s, e = start + stripped_left, end - stripped_right
    if e > s:
        spans.append((s, e))


_POINTS_BACK = re.compile(r"^\W*(?:this|these(?! days)|it|its|they|their|that|those(?! (?:with|who|whose|at|in|on|taking))"
                          r"|such|both|either|if (?:so|not(?=\s*,)|you do|they do|it does"
                          r"|(?:you|they) (?:have|get|got|had) (?:it|them|one)\b(?! of))|when it does)\b", re.IGNORECASE)


def points_back(sentence: str) -> bool:
    """Whether ``sentence`` opens by pointing back at something said before it ("It causes ...", "This can
    lead to ...", "If you do, ..."): read alone, it does not say what it is about.

    Example:
        >>> points_back("If you do, you will need insulin."), points_back("Insulin is a hormone.")
        (True, False)
    """
    return _POINTS_BACK.match(sentence) is not None


def words(text: str) -> list[str]:
    """Lower-cased word and number tokens of ``text``."""
    return [w.lower() for w in _WORD.findall(text)]


def approx_tokens(text: str) -> int:
    """Approximate word-piece count of ``text`` (about 1.3 pieces per word, numbers and symbols counted)."""
    return int(len(text.split()) * 1.3) + 1


def is_blank(text: str) -> bool:
    """Whether ``text`` holds nothing to read: only whitespace, control and invisible format characters
    (zero-width space and joiners, word joiner, byte-order mark, soft hyphen).

    Example:
        >>> is_blank(" \u200b\n"), is_blank("asthma")
        (True, False)
    """
    return all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)
