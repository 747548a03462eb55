"""Text features for the injection detector: normalisation that undoes obfuscation, and hashed character
n-grams and words (script-independent), computed for many texts at once with numpy.

Example:
    >>> normalize("ＩＧＮＯＲＥ all previous instructions")
    'ignore all previous instructions'
    >>> rows, cols, values = hashed_features(["call 911 now"], bits=18)
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LOOKALIKE = str.maketrans({
    # Cyrillic and Greek letters drawn like Latin ones, folded only inside words that mix scripts.
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
    "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ґ": "r",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X",
    "І": "I", "Ј": "J", "Ѕ": "S", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "Ζ": "Z",
})
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_LATIN = re.compile(r"[A-Za-z]")
_LOOKALIKES = "".join(chr(k) for k in _LOOKALIKE)
_MIXED = re.compile(rf"\b(?=\w*[A-Za-z])(?=\w*[{_LOOKALIKES}])\w+")
_FULLWIDTH = re.compile("[\uff01-\uff5e]")
_ACRONYM = re.compile(r"\b[A-ZА-Я]{2,5}\b")
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"https?://|www\.|\b[\w-]+\.(com|net|org|io|info|biz|example)\b", re.IGNORECASE)),
    ("phone", re.compile(r"\+?\d[\d\s().-]{7,}\d")),
    ("markup", re.compile(r"<!--|-->|<\|?/?\w+\|?>|\[/?inst\]|display\s*:\s*none|!\[", re.IGNORECASE)),
    ("role", re.compile(r"(^|\W)(system|assistant|user|developer)\s*[:>\]]", re.IGNORECASE)),
    ("quote", re.compile(r"[\"'“”«»].{8,}[\"'“”«»]")),
)
NGRAMS = (2, 3, 4, 5)
_PRIME = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    folded = word.translate(_LOOKALIKE)
    return folded if folded != word and _LATIN.search(word) else word


def normalize(text: str) -> str:
    """NFKC (full-width and compatibility forms), invisible characters removed, look-alike letters folded
    in mixed-script words, case folded, whitespace collapsed."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return " ".join(_WORD.sub(_fold_word, text).casefold().split())


def cues(raw: str) -> list[str]:
    """Names of the obfuscation and addressing cues present in ``raw`` (before normalisation)."""
    found = [name for name, pattern in _CUES if pattern.search(raw)]
    if _INVISIBLE.search(raw):
        found.append("invisible")
    if _FULLWIDTH.search(raw):
        found.append("fullwidth")
    if _MIXED.search(raw):
        found.append("mixed_script")
    return found


def _tokens(text: str) -> list[str]:
    """Words; runs of Chinese and Japanese characters (written without spaces) as overlapping pairs."""
    out: list[str] = []
    for word in _WORD.findall(text):
        if _CJK.fullmatch(word):
            out += [word[i:i + 2] for i in range(len(word) - 1)]
        else:
            out.append(word)
    return out


def _clauses(text: str) -> list[list[str]]:
    """The words of the sentence's start and of each clause after a colon or a dash (where an address
    to the model ends and the instruction begins)."""
    return [_tokens(part) for part in re.split(r"[:：]\s?|\s[-\u2013\u2014]\s", text)[:4]]


def _hash_text(token: str, bits: int) -> int:
    return zlib.crc32(token.encode("utf-8")) >> (32 - bits)


def hashed_features(texts: Sequence[str], bits: int, raw: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse features of already normalised ``texts``: character 2-5-grams, words, word pairs, the first
    word and first two words (where imperatives stand), and the cues of ``raw`` (the texts before
    normalisation), hashed into ``2**bits`` columns.

    Upper-case acronyms ("AI", "KI", "ИИ") are kept apart from the same letters in lower case (Italian
    "ai"). The first one to three words of the sentence and of each clause after a colon or dash form a
    third group (imperatives stand there). Values are ``1 + log(count)``, L2-normalised per text within
    each group, so that no group drowns the others.

    Returns:
        ``(rows, cols, values)``: row ``i`` is ``texts[i]``; a (row, column) cell may repeat (one per
        group), to be summed.
    """
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    joined = "\x00".join(f" {t} " for t in texts)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    segment = np.cumsum(points == 0)
    rows_parts, cols_parts = [], []
    shift = np.uint64(64 - bits)
    for n in NGRAMS:
        m = len(points) - n + 1
        if m <= 0:
            continue
        h = np.zeros(m, dtype=np.uint64)
        for j in range(n):
            h = h * _PRIME + points[j:j + m]
        valid = (segment[:m] == segment[n - 1:n - 1 + m]) & (points[:m] != 0)
        cols_parts.append(((h ^ np.uint64(n * 0x51ED27)) * _MIX >> shift)[valid].astype(np.int64))
        rows_parts.append(segment[:m][valid].astype(np.int64))
    word_rows, word_cols, head_rows, head_cols = [], [], [], []
    for i, text in enumerate(texts):
        tokens = _tokens(text)
        grams = [f"w:{w}" for w in tokens] + [f"b:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
        if raw is not None:
            grams += [f"c:{c}" for c in cues(raw[i])]
            grams += [f"u:{w.casefold()}" for w in _ACRONYM.findall(unicodedata.normalize("NFKC", raw[i]))]
        word_rows += [i] * len(grams)
        word_cols += [_hash_text(g, bits) for g in grams]
        heads = [f"h:{' '.join(clause[:n])}" for clause in _clauses(text) for n in (1, 2, 3) if len(clause) >= n]
        head_rows += [i] * len(heads)
        head_cols += [_hash_text(g, bits) for g in heads]
    char_rows, char_cols = np.concatenate(rows_parts or [np.zeros(0, np.int64)]), np.concatenate(cols_parts or [np.zeros(0, np.int64)])
    parts = [_cells(char_rows, char_cols, bits, len(texts)),
             _cells(np.asarray(word_rows, dtype=np.int64), np.asarray(word_cols, dtype=np.int64), bits, len(texts)),
             _cells(np.asarray(head_rows, dtype=np.int64), np.asarray(head_cols, dtype=np.int64), bits, len(texts))]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def _cells(rows: np.ndarray, cols: np.ndarray, bits: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (row, column) cells with ``1 + log(count)`` values, L2-normalised per row."""
    keys, counts = np.unique(rows * (1 << bits) + cols, return_counts=True)
    rows, cols = keys >> bits, keys & ((1 << bits) - 1)
    values = 1.0 + np.log(counts.astype(np.float64))
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n))
    values = values / np.maximum(norms[rows], 1e-12)
    return rows, cols, values.astype(np.float32)
