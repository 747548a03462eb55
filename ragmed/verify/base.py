"""The verifier interface: does this evidence state this claim, and where?

A verifier scores claim-evidence pairs. It reads the evidence in windows of one to three sentences and
returns, for each pair, the probability that the evidence supports the claim and the window that
supports it best (character offsets into the evidence).

Example:
    >>> verifier = make_verifier(VerifierSettings(backend="lexical"))
    >>> verdict = verifier.support([ClaimPair("Metformin lowers glucose.", "Metformin lowers blood glucose.")])[0]
    >>> round(verdict.probability, 2) > 0.5, verdict.start, verdict.end
    (True, 0, 31)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ragmed.text import split_sentences


@dataclass(frozen=True)
class ClaimPair:
    """One claim to check against one piece of evidence.

    Attributes:
        claim: the answer sentence (or list item, or clause), without citation markers.
        evidence: the cited passage's text.
        question: the question the answer responds to ("" when there is none).
        title: the evidence's document title ("" when unknown).
    """

    claim: str
    evidence: str
    question: str = ""
    title: str = ""


@dataclass(frozen=True)
class Verdict:
    """How well one piece of evidence supports one claim.

    Attributes:
        probability: the probability that the evidence states the claim (0..1).
        start: start of the supporting window in the evidence text.
        end: end of the supporting window in the evidence text.
    """

    probability: float
    start: int
    end: int


@runtime_checkable
class Verifier(Protocol):
    """Scores claims against evidence."""

    name: str

    def support(self, pairs: Sequence[ClaimPair]) -> list[Verdict]:
        """One verdict per pair, in order: the probability that ``pair.evidence`` states ``pair.claim``."""
        ...


def windows(text: str, width: int = 2) -> list[tuple[int, int]]:
    """Evidence windows of ``text``: each sentence alone and each run of ``width`` consecutive sentences.

    A list written as one line per item counts as one sentence per line, so a window of a list header
    and its items can reach the whole list.
    """
    spans = split_sentences(text)
    out = list(spans)
    for n in range(2, width + 1):
        out += [(spans[i][0], spans[i + n - 1][1]) for i in range(len(spans) - n + 1)]
    return out or ([(0, len(text))] if text.strip() else [])


def claim_input(claim: str, question: str = "") -> str:
    """The first segment of a support pair as the trained verifier reads it."""
    return f"claim: {claim} | question: {question}" if question else f"claim: {claim}"



def evidence_input(title: str, window: str) -> str:
    """The second segment of a pair: the evidence window under its document title."""
    return f"{title} | {window}" if title else window
