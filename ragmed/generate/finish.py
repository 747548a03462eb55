"""Final shaping of an answer for its audience: emergency guidance first, refusals, disclaimer, flags."""

from __future__ import annotations

import re

from ragmed.safety import DOSE_AMOUNT, disclaimer, injection_flags
from ragmed.types import Answer, Audience, SafetyFlag

_MARK = re.compile(r"\[(\d+)\]")


def withheld(sentence: str, refusal: SafetyFlag) -> bool:
    """True when a declined request's answer must not carry ``sentence`` (a dose amount after a declined
    dosing request)."""
    return refusal.rule in ("dosing", "dose", "dose_change", "weight_age_dose", "missed_double") and bool(
        DOSE_AMOUNT.search(sentence))


def finish(body: Answer, question: str, audience: Audience, emergencies: list[SafetyFlag],
           refusal: SafetyFlag | None, disclaimer_text: str) -> Answer:
    """Compose the final text of ``body``: emergency guidance (if any), the refusal with its reason (if
    any), the checked answer, and for the public the disclaimer.

    Returns:
        ``body``, updated in place.
    """
    parts = [f.message for f in emergencies]
    if refusal is not None:
        parts.append(refusal.message if not body.abstained else refusal.message.replace(" General information follows.", ""))
    if body.text.strip() and not (body.abstained and (emergencies or refusal)):
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


def drop_withheld(body: Answer, refusal: SafetyFlag) -> None:
    """Remove the supported sentences a declined request withholds and renumber the citations 1..N."""
    kept = [s for s in body.sentences if s.supported and not withheld(s.text, refusal)]
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
    if not kept:
        from ragmed.cite import ABSTAIN

        body.text, body.abstained = ABSTAIN, True
