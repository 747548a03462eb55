"""The lexical verifier: shared content words, numbers, negation and (optionally) embedding similarity.

A claim is scored against each evidence window: the share of its content words found in the window and
its neighbours, the share found anywhere in the evidence, and the cosine similarity of their embeddings
when an embedder is given. Numbers the evidence lacks, and a negation the evidence does not share, cap the
score. The score maps to a probability through a logistic curve centred on ``threshold``. It needs no
trained model, so it is the fallback when the trained verifier cannot be used; it does not understand
paraphrase, and it cannot tell a type 1 from a type 2 claim.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ragmed.text import split_sentences, words
from ragmed.verify.base import ClaimPair, Verdict

_STOP = frozenset(["a", "about", "of", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "may", "me", "might", "more", "most", "must", "my", "myself", "our", "ours", "ourselves", "out", "over", "own", "same", "shall", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "one", "two", "per", "vs", "via", "among", "within", "whether", "thus", "however", "therefore", "on", "or", "nor", "no", "not", "never", "none", "neither", "without", "cannot", "although", "though", "yet", "even", "either", "study", "studies", "patients", "patient", "results", "result", "conclusion", "conclusions", "data", "using", "used", "use", "based"])
_NEGATION = frozenset(["no", "not", "never", "none", "neither", "nor", "without", "cannot", "nonsignificant", "insignificant"])
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)")


class Encoder(Protocol):
    """Anything that turns texts into one vector per text."""

    def encode(self, texts: list[str]) -> Any: ...


def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of ``word``."""
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


_STEMMER: Any = None


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


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


def negation_scope(text: str, width: int = 4) -> set[str]:
    """Stemmed content words within ``width`` words after each negation cue of ``text``."""
    tokens = words(text.lower().replace("n't", " not"))
    scope: set[str] = set()
    for i, w in enumerate(tokens):
        if w in _NEGATION:
            scope |= {stem(t) for t in tokens[i + 1: i + 1 + width] if t not in _STOP and not t[0].isdigit()}
    return scope


# Words that exclude each other: a claim that says one where the evidence says another is not supported.
EXCLUSIVE: tuple[tuple[str, ...], ...] = (
    ("viral", "bacterial", "fungal", "parasitic"), ("virus", "bacterium", "fungus", "parasite"),
    ("viruses", "bacteria", "fungi", "parasites"), ("antiviral", "antibiotic", "antifungal"),
    ("antivirals", "antibiotics", "antifungals"), ("acute", "chronic"), ("benign", "malignant"),
    ("inherited", "acquired"), ("upper", "lower"), ("left", "right"), ("systolic", "diastolic"),
    ("artery", "vein"), ("arteries", "veins"), ("hypothyroidism", "hyperthyroidism"),
    ("hypoglycemia", "hyperglycemia"), ("hypotension", "hypertension"), ("increase", "decrease"),
    ("increases", "decreases"), ("increased", "decreased"), ("higher", "lower"), ("mild", "severe"),
    ("common", "rare", "uncommon"), ("commonly", "rarely"),
)
# Terms that exclude each other more widely: a claim with one put in place of another is a different claim,
# and the evidence often names both ("Viral pneumonia ... antiviral; bacterial pneumonia ... antibiotics").
CONTRASTS: tuple[tuple[str, ...], ...] = EXCLUSIVE + (
    ("type 1", "type 2"), ("primary", "secondary"), ("early", "late"), ("short-term", "long-term"),
    ("insulin", "metformin"), ("oral", "intravenous"), ("daily", "weekly", "monthly"), ("morning", "evening"),
    ("men", "women"), ("before", "after"), ("positive", "negative"), ("dominant", "recessive"),
    ("first", "second", "third"), ("red", "white"), ("heart", "lung", "liver", "kidney", "brain"),
    ("hearts", "lungs", "livers", "kidneys"),
)
_EXCLUSIVE_STEMS: list[frozenset[str]] = []


def _exclusive_stems() -> list[frozenset[str]]:
    if not _EXCLUSIVE_STEMS:
        _EXCLUSIVE_STEMS.extend(frozenset(stem(w) for w in group) for group in EXCLUSIVE)
    return _EXCLUSIVE_STEMS


def contrast_conflict(claim: str, evidence: str) -> str | None:
    """A word of ``claim`` whose excluding partner takes its place in the evidence sentence closest to the
    claim ("bacterial pneumonia ... antiviral" where the sentence about antivirals says "viral"), or None.

    The closest sentences are those sharing most of the claim's other content words; a conflict needs every
    one of them to name a partner word and none to name the claim's own word.
    """
    claim_terms = terms(claim)
    sentences = [terms(evidence[s:e]) for s, e in split_sentences(evidence)]
    for group in _exclusive_stems():
        own = claim_terms & group
        if len(own) != 1:
            continue
        rest = claim_terms - group
        shared = [len(rest & sentence) for sentence in sentences]
        best = max(shared, default=0)
        if best < 2:
            continue
        closest = [sentence for sentence, n in zip(sentences, shared) if n == best]
        if all(sentence & group and not sentence & own for sentence in closest):
            return next(iter(own))
    return None


_TOKEN = re.compile(r"[\w'-]+")
# Opposites a copied sentence may not exchange ("too high" for "too low"); not used to generate training pairs.
_OPPOSITES: tuple[tuple[str, ...], ...] = (("high", "low"), ("fast", "slow"), ("large", "small"), ("hot", "cold"),
                                            ("strong", "weak"))
_PARTNERS: dict[str, frozenset[str]] = {
    term: frozenset(other for group in (*CONTRASTS, *_OPPOSITES) if term in group for other in group if other != term)
    for group in (*CONTRASTS, *_OPPOSITES) for term in group
}


def _negates(tokens: Sequence[str]) -> bool:
    """Whether the tokens say "not": a negation word, or a contraction of one ("don't", "can't")."""
    return any(t in _NEGATION or t.endswith(("n't", "n\u2019t")) for t in tokens)


def _same_negation(was: Sequence[str], now: Sequence[str]) -> bool:
    """Whether a negation and a negative prefix say the same ("not safe" / "unsafe", "not effective" /
    "ineffective")."""
    plain = [t for t in (*was, *now) if t not in _NEGATION and not t.endswith("n't")]
    for a in plain:
        for b in plain:
            if a != b and b.startswith(("un", "in", "im", "non", "dis")) and b.lstrip("-") != a \
                    and stem(re.sub(r"^(?:un|in|im|non|dis)-?", "", b)) == stem(a):
                return True
    return False


def misquote(claim: str, evidence: str, named: Callable[[str], set[str]] | None = None, title: str = "",
             concepts: Callable[[str], set[str]] | None = None) -> str | None:
    """How ``claim`` misquotes the evidence sentence it copies, or None.

    A claim that repeats most of one evidence sentence (60% of its words, in order) but changes what it says
    is not stated by it: a negation put in or taken out inside the copied part, a word exchanged for one that
    excludes it (``CONTRASTS``: "late" for "early", "positive" for "negative"), or a condition put in place of
    the sentence's words that another part of the evidence names ("scarring" where the sentence says
    "interstitial lung diseases"; ``named`` links conditions, and the condition the document is about, named in
    ``title``, may stand in for a word), or a phrase of two or more words that neither the evidence nor its title
    uses put in place of the sentence's words, naming a concept and none the evidence names (``concepts`` links any
    ontology's concepts): "The best way to prevent carbon monoxide poisoning is to limit your exposure" against "The best way
    to prevent inhalation injuries is to limit your exposure". Rewording that keeps the meaning (a pronoun resolved,
    a synonym the ontology knows) passes.
    """
    said = [t.lower() for t in _TOKEN.findall(claim)]
    if len(said) < 4:
        return None
    best: tuple[int, list[str], Any] | None = None
    for s, e in split_sentences(evidence):
        source = [t.lower() for t in _TOKEN.findall(evidence[s:e])]
        matcher = difflib.SequenceMatcher(None, source, said, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        if best is None or matched > best[0]:
            best = (matched, source, matcher)
    if best is None or best[0] < 0.6 * len(said):
        return None
    _, source, matcher = best
    everywhere = {stem(t) for t in _TOKEN.findall(evidence.lower())}
    ops = matcher.get_opcodes()
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        was, now = source[i1:i2], said[j1:j2]
        # A short insertion or deletion inside the copied part; a long one is the claim skipping material (one
        # item of a list), not a change of meaning.
        inside = 0 < k < len(ops) - 1 and max(len(was), len(now)) <= 3
        if inside and ((op == "insert" and _negates(now)) or (op == "delete" and _negates(was))):
            return f"negation {'added' if op == 'insert' else 'dropped'}: {' '.join(now or was)}"
        if op != "replace" or len(was) > 3 or len(now) > 3:
            continue
        if _negates(was) != _negates(now) and not _same_negation(was, now):
            return f"negation changed: {' '.join(was)} -> {' '.join(now)}"
        kept = {stem(t) for t in was}
        for word in now:
            if word in _STOP or stem(word) in kept:
                continue
            partners = [w for w in was if word in _PARTNERS.get(w, ())]
            # both words in the sentence and in the claim: reordered ("too high or too low"), not exchanged
            if partners and not (word in source and all(w in said for w in partners)):
                return f"contrast: {' '.join(was)} -> {' '.join(now)}"
            if (named is not None and stem(word) in everywhere and set(was) - _STOP
                    and named(" ".join(now)) - named(" ".join(was)) - named(title)):
                return f"condition swapped: {' '.join(was)} -> {' '.join(now)}"
        new = [w for w in now if w not in _STOP and not w[0].isdigit()]
        if (len(new) >= 2 and concepts is not None
                and not {stem(w) for w in new} & (everywhere | {stem(t) for t in _TOKEN.findall(title.lower())})):
            named_now = concepts(" ".join(now))
            if named_now and not named_now & concepts(evidence + " " + title):
                return f"subject swapped: {' '.join(was)} -> {' '.join(now)}"
    return None


def missing_numbers(claim: str, evidence: str) -> set[str]:
    """Numbers of ``claim`` that ``evidence`` does not contain."""
    return numbers(claim) - numbers(evidence)


class LexicalVerifier:
    """Word, number and negation overlap (plus embedding similarity when an embedder is given).

    Args:
        embedder: optional encoder for cosine similarity.
        threshold: the raw score that maps to probability 0.5.
    """

    name = "lexical"

    def __init__(self, embedder: Encoder | None = None, threshold: float = 0.40) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.embedder = embedder
        self.threshold = threshold

    def _encode(self, texts: list[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        vecs: np.ndarray = np.asarray(self.embedder.encode(texts), dtype=np.float32)
        normalised: np.ndarray = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return normalised

    def _probability(self, score: float) -> float:
        return 1.0 / (1.0 + math.exp(-12.0 * (score - self.threshold)))

    def support(self, pairs: Sequence[ClaimPair]) -> list[Verdict]:
        """One verdict per pair; the supporting window is the evidence sentence scoring best."""
        sentences = [[(s, e) for s, e in split_sentences(p.evidence)] for p in pairs]
        vecs = self._encode([p.claim for p in pairs] + [p.evidence[s:e] for p, spans in zip(pairs, sentences)
                                                        for s, e in spans])
        offset = len(pairs)
        out = []
        for i, (pair, spans) in enumerate(zip(pairs, sentences)):
            claim_vec = None if vecs is None else vecs[i]
            span_vecs = None if vecs is None else vecs[offset:offset + len(spans)]
            offset += len(spans)
            score, start, end = self._score(pair.claim, pair.evidence, spans, claim_vec, span_vecs)
            out.append(Verdict(self._probability(score), start, end))
        return out

    def _score(self, claim: str, evidence: str, spans: list[tuple[int, int]], claim_vec: np.ndarray | None,
               span_vecs: np.ndarray | None) -> tuple[float, int, int]:
        c_terms = terms(claim)
        if not spans or not c_terms:
            return 0.0, 0, 0
        unit_terms = [terms(evidence[s:e]) for s, e in spans]
        everywhere = set().union(*unit_terms)
        coverage = len(c_terms & everywhere) / len(c_terms)
        best, best_j = -1.0, 0
        for j, u in enumerate(unit_terms):
            window = u | (unit_terms[j - 1] if j else set()) | (unit_terms[j + 1] if j + 1 < len(unit_terms) else set())
            lexical = 0.6 * len(c_terms & u) / len(c_terms) + 0.4 * len(c_terms & window) / len(c_terms)
            if claim_vec is not None and span_vecs is not None:
                score = 0.3 * lexical + 0.3 * coverage + 0.4 * max(float(claim_vec @ span_vecs[j]), 0.0)
            else:
                score = 0.6 * lexical + 0.4 * coverage
            if score > best:
                best, best_j = score, j
        start, end = spans[best_j]
        if missing_numbers(claim, evidence):
            best = min(best, self.threshold * 0.5)
        near = set().union(*(negation_scope(evidence[s:e]) for s, e in spans[max(best_j - 1, 0): best_j + 2]))
        scope = negation_scope(claim)
        if (scope and not scope & near) or (not scope and len(negation_scope(evidence[start:end]) & c_terms) >= 2):
            best = min(best, self.threshold * 0.5)
        return max(best, 0.0), start, end
