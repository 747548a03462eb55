"""Citation check: every answer sentence must be backed by the passage it cites, or it is removed.

Each sentence of a generated answer is scored against the passages it cites ([n] markers): content
words and numbers shared with the best passage sentence and its neighbours, embedding similarity when
an embedder is given, and penalties for numbers absent from the passage and for negation that the
passage does not share. A citation the model numbered wrongly is moved to the passage that does support
the sentence; a sentence without markers is checked against every passage; a sentence that no passage
supports is kept in ``sentences`` with ``supported=False`` and left out of the text. When no sentence is
supported the answer abstains.

Example:
    >>> checker = CitationChecker(threshold=0.40)
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
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TRAILING = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;\u2013-]\s*\d+)*\])+)")
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")
_STOP = _wordset("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just may me might more most must my myself
our ours ourselves out over own same shall she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves one two per vs via among within whether thus however therefore
on or nor no not never none neither without cannot although though yet even either
study studies patients patient results result conclusion conclusions data using used use based""")
# Words common in any scientific or plain-language claim; a sentence may add them without new content.
_GENERIC = _wordset("""suggest suggests suggested show shows shown showed appear appears appeared seem seems seemed
indicate indicates indicated demonstrate demonstrates demonstrated found find finding findings conclude concluded
support supports supported evidence effect effects effective effectiveness efficacy efficacious impact important
importance useful usefulness useful safe safety feasible feasibility possible possibly potential potentially likely
unlikely may might could can should need needed needs further future research investigation investigations trial
trials warranted confirm confirmed clinical clinically practice setting settings increase increased increases
increasing decrease decreased decreases reduce reduced reduces reducing reduction improve improved improves
improvement high higher highest low lower lowest large larger small smaller significant significantly
insignificant different difference differences similar comparable compared comparison associated association
associations related relationship relation role factor factors risk risks rate rates level levels outcome outcomes
good better best poor worse overall general generally particular particularly specific specifically common commonly
rare new novel present presence absence present provide provides provided offer offers allow allows help helps
role use useful valuable value values good strong weak limited limit limitation limitations observed observe
report reported reports identify identified identification predict predicts predictive predictor predictors
determine determined assess assessed assessment evaluate evaluated evaluation measure measured method methods
approach approaches tool tools strategy strategies option options treatment treatments therapy therapies
management managed group groups population populations cohort sample subjects individuals people persons adults
many most several various number numbers often frequent frequently rather well also only still although however
thus therefore whereas both either neither whether despite unclear clear clearly remains remain remained
considered consider considering appropriate recommended recommend recommendation benefit benefits beneficial
adverse positive negative change changes changed lead leads led cause causes caused due result resulting""")
_NEGATION = _wordset("no not never none neither nor without cannot nonsignificant insignificant")
_AIM = re.compile(r"^\W*(to (assess|determine|evaluate|examine|investigate|compare|test|study|describe|identify)|"
                  r"(the|our|this) (aim|purpose|objective|goal)s?\b|we (aimed|sought|hypothesi[sz]ed|asked)|this study (aimed|sought))",
                  re.IGNORECASE)
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


_GENERIC_STEMS = frozenset(stem(w) for w in _GENERIC)


def numbers(text: str) -> set[str]:
    """Numbers written in ``text``, normalised ("1,099" -> "1099", "5.0" -> "5")."""
    out = set()
    for m in _NUMBER.finditer(text):
        value = m.group(1).replace(",", "")
        out.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return out


def negation_scope(text: str, width: int = 4) -> set[str]:
    """Stemmed content words within ``width`` words after each negation cue of ``text``."""
    tokens = words(text.lower().replace("n't", " not"))
    scope: set[str] = set()
    for i, w in enumerate(tokens):
        if w in _NEGATION:
            scope |= {stem(t) for t in tokens[i + 1: i + 1 + width] if t not in _STOP and not t[0].isdigit()}
    return scope


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
    neg: set[str]
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

    novel_penalty = 0.05

    def __init__(self, threshold: float = 0.40, embedder: Embedder | None = None) -> None:
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
        units = [[_Unit(p.text[s:e], p.start + s, p.start + e, terms(p.text[s:e]), negation_scope(p.text[s:e]))
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
            if _AIM.search(u.text):
                lexical *= 0.5
            sim = float(vec @ u.vec) if vec is not None and u.vec is not None else 0.0
            score = (0.3 * lexical + 0.3 * coverage + 0.4 * max(sim, 0.0)) if vec is not None else (0.6 * lexical + 0.4 * coverage)
            if best is None or score > best.score:
                best = Support(score, index, u.text, u.start, u.end, lexical, coverage, sim)
        assert best is not None
        missing = s_nums - numbers(passage.text)
        novel = s_terms - all_terms - _GENERIC_STEMS
        if novel:
            best.score -= self.novel_penalty * min(len(novel), 3)
            best.reason = f"words not in evidence: {sorted(novel)}"
        if missing:
            best.score, best.reason = min(best.score, self.threshold * 0.5), f"numbers not in evidence: {sorted(missing)}"
        elif not self._negation_agrees(text, s_terms, best, units):
            best.score, best.reason = min(best.score, self.threshold * 0.5), "negation differs from evidence"
        best.score = max(best.score, 0.0)
        return best

    @staticmethod
    def _negation_agrees(text: str, s_terms: set[str], best: Support, units: list[_Unit]) -> bool:
        """A negated claim needs a negation over some of the same words in or beside the best evidence
        sentence; a plain claim must not assert what the best evidence sentence negates."""
        j = next(i for i, u in enumerate(units) if u.start == best.start)
        near = set().union(*(u.neg for u in units[max(j - 1, 0): j + 2]))
        scope = negation_scope(text)
        if scope:
            return bool(scope & near)
        return len(units[j].neg & s_terms) < 2

    def check(self, answer: str, passages: list[Passage]) -> CheckedAnswer:
        """Check every sentence of ``answer`` against ``passages`` (``[n]`` is ``passages[n-1]``).

        Returns:
            The checked answer: supported sentences only, markers renumbered 1..N in order of first use,
            one ``Citation`` per distinct supporting sentence; ``ABSTAIN`` when nothing is supported.
        """
        answer = _TRAILING.sub(r"\2\1", answer)
        pieces = [strip_markers(text) for text in _merge_headers([answer[s:e] for s, e in split_sentences(answer)])]
        unique = dict.fromkeys((t, tuple(m)) for t, m in pieces)
        pieces = [(t, list(m)) for t, m in unique if t and not t.endswith(":") and not _abstention(t)]
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


def _abstention(sentence: str) -> bool:
    return "does not answer" in sentence.lower() and "evidence" in sentence.lower()


def _merge_headers(sentences: list[str]) -> list[str]:
    """Join a sentence ending in ":" (a list header) with what follows, so the pair is checked as one claim."""
    out: list[str] = []
    for sentence in sentences:
        if out and out[-1].rstrip().endswith(":"):
            out[-1] = f"{out[-1]} {' '.join(sentence.split())}"
        else:
            out.append(" ".join(sentence.split()))
    return out
