"""The answer that needs no model: the evidence sentences most relevant to the question, cited."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ragmed.cite import ABSTAIN, Embedder, terms
from ragmed.safety import looks_like_injection
from ragmed.text import split_sentences, words
from ragmed.types import Answer, AnswerSentence, Citation, Passage


@dataclass
class _Candidate:
    passage: Passage
    text: str
    start: int
    end: int
    score: float


class ExtractiveAnswerer:
    """Pick 2-4 evidence sentences by relevance to the question; deterministic.

    Relevance is the share of the question's content words in the sentence, plus the cosine similarity of
    their embeddings when an embedder is given, plus a small bonus for the passage's retrieval rank.

    Args:
        embedder: optional embedder (``encode(list[str])``).
        embed_limit: candidate sentences (best by word overlap) whose embeddings are compared.
        min_relevance: below this best score the answer abstains.

    Example:
        >>> ExtractiveAnswerer().answer("What causes gout?", passages).text  # doctest: +SKIP
    """

    name = "extractive"

    def __init__(self, embedder: Embedder | None = None, *, min_relevance: float = 0.2,
                 max_sentences: int = 4, min_sentences: int = 2, embed_limit: int = 8) -> None:
        if not 1 <= min_sentences <= max_sentences:
            raise ValueError(f"need 1 <= min_sentences <= max_sentences, got {min_sentences}, {max_sentences}")
        self.embedder = embedder
        self.min_relevance = min_relevance
        self.max_sentences = max_sentences
        self.min_sentences = min_sentences
        self.embed_limit = embed_limit

    def _candidates(self, question: str, passages: list[Passage]) -> list[_Candidate]:
        q_terms = terms(question)
        out: list[_Candidate] = []
        for rank, p in enumerate(passages):
            for s, e in split_sentences(p.text):
                text = p.text[s:e]
                if len(words(text)) < 5 or looks_like_injection(text):
                    continue
                overlap = len(q_terms & terms(text)) / max(len(q_terms), 1)
                out.append(_Candidate(p, text, p.start + s, p.start + e, overlap + 0.05 / (rank + 1)))
        if self.embedder is not None and out:
            # Embedding every evidence sentence dominates the answer time on a CPU: only the best
            # candidates by word overlap are embedded; the rest keep their lexical score.
            out.sort(key=lambda c: -c.score)
            head = out[: self.embed_limit]
            encode_query = getattr(self.embedder, "encode_query", None)
            query = np.asarray(encode_query(question) if encode_query else self.embedder.encode([question])[0],
                               dtype=np.float32)
            vecs = np.asarray(self.embedder.encode([c.text for c in head]), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            query /= max(float(np.linalg.norm(query)), 1e-12)
            for c, sim in zip(head, vecs @ query):
                c.score = 0.5 * c.score + float(sim)
            for c in out[self.embed_limit:]:
                c.score *= 0.5
        return out

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        """The extractive answer to ``question`` from ``passages``.

        Returns:
            An ``Answer`` whose sentences are evidence sentences verbatim, each with one citation whose span
            indexes the document text; abstains when no sentence reaches ``min_relevance``.
        """
        ranked = sorted(self._candidates(question, passages), key=lambda c: (-c.score, c.passage.chunk_id, c.start))
        if not ranked or ranked[0].score < self.min_relevance:
            return Answer(question=question, text=ABSTAIN, passages=list(passages), abstained=True)
        chosen: list[_Candidate] = []
        seen: set[str] = set()
        for c in ranked:
            key = " ".join(words(c.text))
            if key in seen:
                continue
            if len(chosen) >= self.min_sentences and c.score < 0.6 * ranked[0].score:
                break
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
    stripped = sentence.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} [{n}]{stripped[-1]}"
    return f"{stripped} [{n}]."
