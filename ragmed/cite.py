"""Citation check: every answer sentence must be backed by the passage it cites, or it is removed.

Each sentence of a generated answer is scored against the passages it cites ([n] markers): content
words and numbers shared with the best passage sentence and its neighbours, embedding similarity when
an embedder is given, and penalties for numbers absent from the passage and for negation that the
passage does not share. A citation the model numbered wrongly is moved to the passage that does support
the sentence; a sentence without markers is checked against every passage; a sentence that no passage
supports is kept in ``sentences`` with ``supported=False`` and left out of the text. When no sentence is
supported the answer abstains.

Example:
    >>> checker = CitationChecker(threshold=0.45)
    >>> checked = checker.check("Metformin lowers glucose [2].", passages)  # doctest: +SKIP
    >>> checked.text, checked.citations[0].sentence  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ragmed.safety import looks_like_injection
from ragmed.text import split_sentences, words
from ragmed.types import AnswerSentence, Citation, Passage

ABSTAIN = "The retrieved evidence does not answer this question."
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")
_STOP = frozenset("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just may me might more most must my myself
our ours ourselves out over own same shall she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves one two per vs via among within whether thus however therefore
on or nor no not never none neither without cannot although though yet even either
study studies patients patient results result conclusion conclusions data using used use based""".split())
_NEGATION = frozenset("no not never none neither nor without cannot nonsignificant insignificant".split())
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)")


class Embedder(Protocol):
    """Anything that turns texts into one vector per text (normalised or not)."""

    def encode(self, texts: list[str]) -> Any:
        ...


def stem(word: str) -> str:
    """A light suffix-stripping stem, enough to match "treated"/"treatment"/"treats"."""
    for suffix in ("ational", "ations", "ation", "ments", "ment", "ness", "ities", "ity", "ing", "ies", "ed", "es", "ly", "al", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Stemmed content words of ``text`` (stop words and numbers left out)."""
    return {stem(w) for w in words(text) if w not in _STOP and not w[0].isdigit() and len(w) > 1}


def numbers(text: str) -> set[str]:
    """Numbers written in ``text``, normalised ("1,099" -> "1099", "5.0" -> "5")."""
    out = set()
    for m in _NUMBER.finditer(text):
        value = m.group(1).replace(",", "")
        out.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return out


def negated(text: str) -> bool:
    """True when ``text`` carries a negation cue ("no", "not", "did not", "without", "n't"...)."""
    lowered = text.lower()
    return "n't" in lowered or any(w in _NEGATION for w in words(lowered))


def strip_markers(text: str) -> tuple[str, list[int]]:
    """Remove ``[n]`` markers from ``text`` and return the text and the numbers in order ("[1-3]" expands)."""
    found: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            bounds = re.split(r"\s*[\u2013-]\s*", part)
            lo, hi = int(bounds[0]), int(bounds[-1])
            found.extend(range(lo, min(hi, lo + 20) + 1) if hi >= lo else [lo])
    return MARKER.sub("", text).strip(), list(dict.fromkeys(found))


@dataclass
class Support:
    """How well one passage backs one sentence, and the passage sentence that backs it best."""

    score: float
    passage: int
    sentence: str
    start: int
    end: int
    lexical: float = 0.0
    coverage: float = 0.0
    similarity: float = 0.0
    reason: str = ""


@dataclass
class _Unit:
    text: str
    start: int
    end: int
    terms: set[str]
    neg: bool
    vec: Any = None


@dataclass
class CheckedAnswer:
    """The checked answer text with renumbered markers, its citations and per-sentence verdicts."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    abstained: bool = False
    reattributed: int = 0


class CitationChecker:
    """Checks answer sentences against passages; see the module docstring.

    Args:
        threshold: score a sentence needs to count as supported (``settings.generation.support_threshold``).
        embedder: optional embedder (``encode(list[str])``); without it only words and numbers count.
    """

    def __init__(self, threshold: float = 0.45, embedder: Embedder | None = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold
        self.embedder = embedder

    def _encode(self, texts: list[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        vecs = np.asarray(self.embedder.encode(texts), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def _units(self, passages: list[Passage]) -> list[list[_Unit]]:
        units = [[_Unit(p.text[s:e], p.start + s, p.start + e, terms(p.text[s:e]), negated(p.text[s:e]))
                  for s, e in split_sentences(p.text) if not looks_like_injection(p.text[s:e])] for p in passages]
        vecs = self._encode([u.text for us in units for u in us])
        if vecs is not None:
            for u, v in zip((u for us in units for u in us), vecs):
                u.vec = v
        return units

    def support(self, sentence: str, passages: list[Passage]) -> list[Support]:
        """Score ``sentence`` (markers ignored) against each of ``passages``.

        Returns:
            One ``Support`` per passage, in passage order.
        """
        text, _ = strip_markers(sentence)
        units = self._units(passages)
        vec = self._encode([text])
        return [self._score(text, None if vec is None else vec[0], i, p, units[i]) for i, p in enumerate(passages)]

    def _score(self, text: str, vec: np.ndarray | None, index: int, passage: Passage, units: list[_Unit]) -> Support:
        s_terms, s_nums = terms(text), numbers(text)
        if not units or not s_terms:
            return Support(0.0, index, "", passage.start, passage.start, reason="no content words" if not s_terms else "no evidence")
        all_terms = set().union(*(u.terms for u in units))
        coverage = len(s_terms & all_terms) / len(s_terms)
        best: Support | None = None
        for j, u in enumerate(units):
            window = u.terms | (units[j - 1].terms if j else set()) | (units[j + 1].terms if j + 1 < len(units) else set())
            lexical = 0.6 * len(s_terms & u.terms) / len(s_terms) + 0.4 * len(s_terms & window) / len(s_terms)
            sim = float(vec @ u.vec) if vec is not None and u.vec is not None else 0.0
            score = (0.3 * lexical + 0.3 * coverage + 0.4 * max(sim, 0.0)) if vec is not None else (0.6 * lexical + 0.4 * coverage)
            if best is None or score > best.score:
                best = Support(score, index, u.text, u.start, u.end, lexical, coverage, sim)
        assert best is not None
        missing = s_nums - numbers(passage.text)
        if missing:
            best.score, best.reason = min(best.score, self.threshold * 0.5), f"numbers not in evidence: {sorted(missing)}"
        elif negated(text) != self._best_unit_negated(best, units):
            best.score, best.reason = best.score * 0.6, "negation differs from evidence"
        return best

    @staticmethod
    def _best_unit_negated(best: Support, units: list[_Unit]) -> bool:
        return next(u.neg for u in units if u.start == best.start)

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        """Check every sentence of ``answer`` against ``passages`` (``[n]`` is ``passages[n-1]``).

        Returns:
            The checked answer: supported sentences only, markers renumbered 1..N in order of first use,
            one ``Citation`` per distinct supporting sentence; ``ABSTAIN`` when nothing is supported.
        """
        pieces = [strip_markers(answer[s:e]) for s, e in split_sentences(answer)]
        pieces = [(t, m) for t, m in dict.fromkeys((t, tuple(m)) for t, m in pieces) if t]
        units = self._units(passages)
        vecs = self._encode([t for t, _ in pieces])
        numbering: dict[tuple[int, int], Citation] = {}
        out = CheckedAnswer(text="")
        kept: list[str] = []
        for k, (text, marks) in enumerate(pieces):
            vec = None if vecs is None else vecs[k]
            scores = [self._score(text, vec, i, p, units[i]) for i, p in enumerate(passages)]
            cited = [scores[m - 1] for m in marks if 1 <= m <= len(passages)]
            backing = [s for s in cited if s.score >= self.threshold]
            if not backing:
                best = max(scores, key=lambda s: s.score, default=None)
                if best is not None and best.score >= self.threshold:
                    backing = [best]
                    out.reattributed += 1 if marks else 0
            if not backing:
                top = max(cited or scores, key=lambda s: s.score, default=None)
                out.sentences.append(AnswerSentence(text, [], False, round(top.score, 4) if top else 0.0))
                continue
            ns = [self._number(numbering, s, passages[s.passage]) for s in backing]
            kept.append(_with_markers(text, ns))
            out.sentences.append(AnswerSentence(kept[-1], ns, True, round(max(s.score for s in backing), 4)))
        out.citations = list(numbering.values())
        out.abstained = not kept
        out.text = ABSTAIN if out.abstained else " ".join(kept)
        return out

    @staticmethod
    def _number(numbering: dict[tuple[int, int], Citation], s: Support, p: Passage) -> int:
        key = (p.chunk_id, s.start)
        if key not in numbering:
            numbering[key] = Citation(
                n=len(numbering) + 1, doc_id=p.doc_id, chunk_id=p.chunk_id, title=p.title, sentence=s.sentence,
                start=s.start, end=s.end, url=p.url, source=p.source, licence=p.licence, score=round(s.score, 4))
        return numbering[key].n


def _with_markers(text: str, ns: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in sorted(set(ns)))
    m = re.search(r"[.!?]+[\"')\]]*$", text)
    return f"{text[:m.start()]} {marks}{text[m.start():]}" if m else f"{text} {marks}."
