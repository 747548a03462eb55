"""Token normalisation shared by the dictionary and the text it links: case, punctuation, accents,
possessives and plurals do not matter ("Alzheimer's diseases" ~ "alzheimer disease")."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][sS]\b)?")
_PARENTHESES = re.compile(r"\s*[\(\[][^()\[\]]*[\)\]]")
_NOS = re.compile(r",?\s+\b(NOS|NEC)\b\s*$")
_ABBREVIATION = re.compile(r"^(?=(?:.*[A-Z]){2})[A-Z][A-Z0-9\-]{2,9}$")

STOPWORDS = frozenset((  # noqa: SIM905
    "a an and are as at be been but by can did do does for from had has have he her his how i if in into "
    "is it its me my no not of on or our she so than that the their them then there these they this to "
    "too was we were what when where which who why will with you your yes all any other some such very "
    "more most may also only one two three first second left right high low large small long short normal "
    "new old mild severe acute chronic type form stage grade due"
).split())
"""Words that never link on their own."""

GENERIC = frozenset((  # noqa: SIM905
    "disease disorder syndrome condition finding abnormality symptom sign illness problem injury lesion "
    "anomaly defect deficiency phenotypic clinical unspecified specified elsewhere classified"
).split())
"""Words too general to link unless part of a longer match: "disease" alone, or "clinical finding",
is not a concept mention."""


@lru_cache(maxsize=1 << 17)
def fold(token: str) -> str:
    """Normalise one token: possessive dropped, accents removed, lower case, plural reduced."""
    if token[-2:] in ("'s", "'S", "\u2019s", "\u2019S"):
        token = token[:-2]
    if not token.isascii():
        token = unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode() or token
    token = token.lower()
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokens(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` of every word of ``text``; ``text[start:end]`` is the word as written."""
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def folded_words(text: str) -> list[str]:
    """The normalised words of a term."""
    return list(map(fold, _TOKEN.findall(text)))


def key(text: str) -> str:
    """The normalised form of a term: folded words joined by single spaces."""
    return " ".join(map(fold, _TOKEN.findall(text)))


def variants(term: str) -> list[str]:
    """The term, and the term without parenthesised parts and a trailing "NOS"/"NEC"
    ("Essential (primary) hypertension" -> also "Essential hypertension")."""
    out = [term]
    if "(" not in term and "[" not in term and "NOS" not in term and "NEC" not in term:
        return out
    stripped = _NOS.sub("", _PARENTHESES.sub("", term)).strip(" ,;")
    if stripped and stripped != term:
        out.append(stripped)
    return out


def is_abbreviation(term: str) -> bool:
    """All-caps short forms such as "HTN", "NIDDM" or "COVID-19": linked case-sensitively."""
    return bool(_ABBREVIATION.match(term))


def is_junk(words: list[str]) -> bool:
    """Terms never worth linking (given as normalised words): under three characters, numbers, stop
    words or generic labels."""
    if len(words) > 4:
        return False
    if len(words) == 1:
        word = words[0]
        return len(word) < 3 or word.isdigit() or word in STOPWORDS or word in GENERIC
    return all(w in STOPWORDS or w in GENERIC or w.isdigit() for w in words)
