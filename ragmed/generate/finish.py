"""Final shaping of an answer for its audience: emergency guidance first, refusals, disclaimer, flags."""

from __future__ import annotations

import re
from collections.abc import Callable

from ragmed.safety import DOSE_AMOUNT, disclaimer, injection_flags
from ragmed.types import Answer, AnswerSentence, Audience, SafetyFlag

_MARK = re.compile(r"\[(\d+)\]")


def finish(body: Answer, question: str, audience: Audience, emergencies: list[SafetyFlag],
           refusal: SafetyFlag | None, disclaimer_text: str) -> Answer:
    """Apply the safety rules to ``body`` and compose its final text.

    The text is: emergency guidance (if any), the refusal with its reason (if any), the checked answer,
    and for the public the disclaimer. A declined dosing request loses every sentence that states an amount.

    Returns:
        ``body``, updated in place.
    """
    if refusal is not None and refusal.rule == "dosing":
        _drop(body, lambda s: bool(DOSE_AMOUNT.search(s.text)))
    parts = [f.message for f in emergencies]
    if refusal is not None:
        parts.append(refusal.message if body.text.strip() else refusal.message.replace(" General information follows.", ""))
    if body.text.strip():
        parts.append(body.text)
    flags = list(emergencies) + ([refusal] if refusal else []) + injection_flags(body.passages)
    if audience == "public" and disclaimer_text:
        parts.append(disclaimer_text)
        flags.append(disclaimer(disclaimer_text))
    body.text = "\n\n".join(parts)
    body.flags = flags
    body.audience = audience
    body.question = question
    return body


def _drop(body: Answer, unwanted: Callable[[AnswerSentence], bool]) -> None:
    """Remove supported sentences matching ``unwanted`` and renumber the citations still used 1..N."""
    kept = [s for s in body.sentences if s.supported and not unwanted(s)]
    if len(kept) == sum(1 for s in body.sentences if s.supported):
        return
    renumber: dict[int, int] = {}
    for s in kept:
        for n in s.citations:
            renumber.setdefault(n, len(renumber) + 1)
    for s in kept:
        s.text = _MARK.sub(lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "", s.text)
        s.citations = [renumber[n] for n in s.citations]
    by_n = {c.n: c for c in body.citations}
    body.citations = [by_n[old] for old in renumber]
    for old, new in renumber.items():
        by_n[old].n = new
    body.sentences = kept + [s for s in body.sentences if not s.supported]
    body.text = " ".join(s.text for s in kept)
