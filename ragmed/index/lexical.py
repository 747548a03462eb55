"""Lexical index: BM25 (bm25s) over chunk texts, keyed by the same chunk ids as FAISS."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ragmed.errors import IndexCorruptError

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def stem(word: str) -> str:
    """A light English stemmer: plural and common suffixes (enough for BM25 recall)."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(suffix):
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "edly", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def tokenize(text: str, stopwords: frozenset[str] | None = None) -> list[str]:
    """Lower-case word tokens without stop words, lightly stemmed."""
    stop = stopwords if stopwords is not None else _stopwords()
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in stop]


class BM25Index:
    """A BM25 index over chunk texts; rebuilt from the docstore when chunks change."""

    def __init__(self, retriever, ids: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self._retriever = retriever
        self.ids = ids
        self._stop = _stopwords()
        self._position = {int(cid): pos for pos, cid in enumerate(ids)}

    @classmethod
    def build(cls, items: Iterable[tuple[int, str]]) -> BM25Index:
        """Index ``(chunk id, text)`` pairs."""
        import bm25s

        ids: list[int] = []
        corpus: list[list[str]] = []
        stop = _stopwords()
        for cid, text in items:
            ids.append(int(cid))
            corpus.append(tokenize(text, stop) or ["\x00empty"])
        retriever = bm25s.BM25()
        if corpus:
            retriever.index(corpus, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-``k`` ``(chunk id, score)`` pairs with a positive BM25 score."""
        tokens = tokenize(query, self._stop)
        if not tokens or not len(self.ids):
            return []
        scores = self._retriever.get_scores(tokens)
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            positions = [self._position[int(a)] for a in allowed if int(a) in self._position]
            mask[positions] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (numpy arrays and JSON; no pickle)."""
        folder.mkdir(parents=True, exist_ok=True)
        if len(self.ids):
            self._retriever.save(str(folder), allow_pickle=False)
        np.save(folder / "ids.npy", self.ids, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Read an index written by ``save``.

        Raises:
            IndexCorruptError: a file is missing or damaged.
        """
        import bm25s

        try:
            ids = np.load(folder / "ids.npy", allow_pickle=False)
            retriever = bm25s.BM25.load(str(folder), allow_pickle=False) if len(ids) else bm25s.BM25()
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"cannot read BM25 index {folder}: {exc}") from exc
        return cls(retriever, ids)


def texts_for_bm25(rows: Iterable[tuple[int, str, str]]) -> Sequence[tuple[int, str]]:
    """Chunk texts prefixed with their document title, so titles count for BM25."""
    return [(cid, f"{title}\n{text}") for cid, text, title in rows]
