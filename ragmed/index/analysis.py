"""Text analysis for the lexical index: word tokens, English stop words, Snowball stems (PyStemmer).

``LEXICAL_VERSION`` names this analysis in the manifest; an index whose lexical files were made
by another version is rebuilt from its docstore when opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ragmed.errors import MissingDependencyError

#: 1: hand-written suffix stemmer (bm25s files); 2: Snowball English via PyStemmer, ragmed's own BM25 segments.
LEXICAL_VERSION = 2

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stop words (the list bm25s ships)."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        import Stemmer
    except ImportError as exc:
        raise MissingDependencyError("PyStemmer is not available - install it with: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    """Lower-case word tokens of ``text`` without stop words, reduced to their Snowball English stems.

    Example:
        >>> analyze("Treatments for the diabetic patients")
        ['treatment', 'diabet', 'patient']
    """
    stop = stopwords()
    words = [t for t in _TOKEN.findall(text.lower()) if t not in stop]
    return list(_stemmer().stemWords(words)) if words else []


def analyze_many(texts: Iterable[str]) -> list[list[str]]:
    """``analyze`` over many texts."""
    return [analyze(text) for text in texts]
