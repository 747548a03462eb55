"""The answer that needs no model: the evidence sentences that best answer the question, cited verbatim.

Candidates are whole evidence sentences (a list stays with its header). Titles, questions, study aims,
sentences that point back to something unnamed ("This can lead to...") and instruction-like text are never
candidates. Each candidate is scored by the share of the question's content words it holds and, for the
best of them, by the cosine similarity of its embedding to the question's; the best are kept, in order of
that score. When no candidate scores enough, the answer abstains.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ragmed.cite import ABSTAIN
from ragmed.safety import looks_like_injection
from ragmed.text import points_back, split_sentences, words
from ragmed.types import Answer, AnswerSentence, Citation, Passage
from ragmed.verify.lexical import Encoder, terms

_QUESTION = re.compile(r"\?\s*$")
_AIM = re.compile(r"^\W*(to (assess|determine|evaluate|examine|investigate|compare|test|study|describe|identify)\b|"
                  r"(the|our|this) (aim|purpose|objective|goal)s?\b|we (aimed|sought|hypothesi[sz]ed|asked)|"
                  r"this study (aimed|sought)|(background|objectives?|purpose|aims?)\s*:)", re.IGNORECASE)
_CREDIT = re.compile(r"^\W*(NIH|CDC|source|from|adapted from)\s*:", re.IGNORECASE)


@dataclass
class _Candidate:
    passage: Passage
    text: str
    start: int
    end: int
    score: float


def quotable(sentence: str, title: str = "") -> bool:
    """A sentence an extractive answer may quote: a statement of substance, not a title, question, study
    aim, credit line, instruction, or a sentence pointing back to something it does not name."""
    norm = " ".join(words(sentence))
    return (len(words(sentence)) >= 5 and norm != " ".join(words(title)) and not _QUESTION.search(sentence)
            and not _AIM.match(sentence) and not points_back(sentence) and not _CREDIT.match(sentence)
            and not looks_like_injection(sentence))


class ExtractiveAnswerer:
    """Pick 1-4 evidence sentences that answer the question; deterministic.

    Args:
        embedder: optional embedder (``encode(list[str])``); without it only shared words count.
        min_relevance: below this best score the answer abstains.
        max_sentences: sentences kept at most.
        shortlist: candidates (best by shared words) whose embeddings are compared with the question's.

    Example:
        >>> ExtractiveAnswerer().answer("What causes gout?", passages).text  # doctest: +SKIP
    """

    name = "extractive"

    def __init__(self, embedder: Encoder | None = None, *, min_relevance: float = 0.2, max_sentences: int = 4,
                 shortlist: int = 8) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.embedder = embedder
        self.min_relevance, self.max_sentences, self.shortlist = min_relevance, max_sentences, shortlist

    def _candidates(self, question: str, passages: list[Passage]) -> list[_Candidate]:
        q_terms = terms(question)
        out: list[_Candidate] = []
        for rank, p in enumerate(passages):
            for s, e in split_sentences(p.text):
                text = p.text[s:e]
                if quotable(text, p.title):
                    overlap = len(q_terms & terms(text)) / max(len(q_terms), 1)
                    out.append(_Candidate(p, text, p.start + s, p.start + e, overlap + 0.05 / (rank + 1)))
        out.sort(key=lambda c: -c.score)
        head = out[: self.shortlist]
        if self.embedder is not None and head:
            encode_query = getattr(self.embedder, "encode_query", None)
            query = np.asarray(encode_query(question) if encode_query else self.embedder.encode([question])[0],
                               dtype=np.float32)
            vecs = np.asarray(self.embedder.encode([c.text for c in head]), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            query /= max(float(np.linalg.norm(query)), 1e-12)
            for c, sim in zip(head, vecs @ query):
                c.score = 0.5 * c.score + float(sim)
            for c in out[self.shortlist:]:
                c.score *= 0.5
        return out

    def answer(self, question: str, passages: list[Passage],
               on_topic: Callable[[Passage, str], bool] | None = None) -> Answer:
        """The extractive answer to ``question`` from ``passages``.

        Args:
            question: the question.
            passages: the evidence.
            on_topic: when given, sentences it rejects (evidence about another condition) are never chosen.

        Returns:
            An ``Answer`` whose sentences are evidence sentences verbatim, each with one citation whose span
            indexes the document text; abstains when no sentence is likely enough to answer the question.
        """
        candidates = [c for c in self._candidates(question, passages) if on_topic is None or on_topic(c.passage, c.text)]
        threshold = self.min_relevance
        ranked = sorted(candidates, key=lambda c: (-c.score, c.passage.chunk_id, c.start))
        if not ranked or ranked[0].score < threshold:
            return Answer(question=question, text=ABSTAIN, passages=list(passages), abstained=True)
        chosen: list[_Candidate] = []
        seen: set[str] = set()
        for c in ranked:
            key = " ".join(words(c.text))
            if key in seen or c.score < max(threshold, 0.6 * ranked[0].score):
                continue
            chosen.append(c)
            seen.add(key)
            if len(chosen) == self.max_sentences:
                break
        citations = [Citation(n=i, doc_id=c.passage.doc_id, chunk_id=c.passage.chunk_id, title=c.passage.title,
                              sentence=c.text, start=c.start, end=c.end, url=c.passage.url, source=c.passage.source,
                              licence=c.passage.licence, score=round(c.score, 4)) for i, c in enumerate(chosen, 1)]
        sentences = [AnswerSentence(text=_cited(c.text, i), citations=[i], supported=True, score=round(c.score, 4))
                     for i, c in enumerate(chosen, 1)]
        return Answer(question=question, text=" ".join(s.text for s in sentences), citations=citations,
                      sentences=sentences, passages=list(passages), generator="extractive")


def _cited(sentence: str, n: int) -> str:
    stripped = " ".join(sentence.split())
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} [{n}]{stripped[-1]}"
    return f"{stripped} [{n}]."
