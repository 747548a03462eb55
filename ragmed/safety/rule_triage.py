"""The rules-only triage backend: the floor, used where no embedding model or trained weights are at hand."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ragmed.safety.bank import SafetyBank
from ragmed.safety.rules import rule_categories, rule_personal
from ragmed.safety.triage import Decline, Emergency, TriageResult
from ragmed.types import Audience, Concept


def check_request(question: str, audience: str) -> None:
    """Raise ``InvalidRequestError`` for an empty question or an unknown audience."""
    from ragmed.errors import InvalidRequestError

    if not isinstance(question, str) or not question.strip():
        raise InvalidRequestError("question must not be empty")
    if audience not in ("clinician", "public"):
        raise InvalidRequestError(f"audience must be 'clinician' or 'public', got {audience!r}")


def emergency(bank: SafetyBank, category: str, score: float, by_rule: bool) -> Emergency:
    """The ``Emergency`` of ``category`` with its guidance and source from the bank."""
    c = bank.category(category)
    return Emergency(c.id, c.title, c.message, c.source_name, c.source_url, round(score, 4), by_rule)


def decline(bank: SafetyBank, kind: str, score: float, by_rule: bool) -> Decline:
    """The ``Decline`` of ``kind`` with its message and source from the bank."""
    p = bank.personal_kind(kind)
    return Decline(p.kind, p.message, p.source_name, p.source_url, round(score, 4), by_rule)


class RuleTriage:
    """Emergency and personal-request rules only (precise, low recall).

    Example:
        >>> RuleTriage(bank).assess("I want to kill myself", "public").emergencies[0].category
        'self_harm'
    """

    name = "rules"

    def __init__(self, bank: SafetyBank) -> None:
        self.bank = bank

    def assess(self, question: str, audience: Audience, concepts: Sequence[Concept] = (),
               embed_text: str | None = None) -> TriageResult:
        started = time.perf_counter()
        check_request(question, audience)
        categories = [c for c in rule_categories(question) if c in self.bank.category_ids]
        kind = rule_personal(question) if audience == "public" else None
        return TriageResult(emergencies=[emergency(self.bank, c, 1.0, True) for c in categories],
                            decline=decline(self.bank, kind, 1.0, True) if kind else None,
                            scores={c: 1.0 for c in categories}, seconds=time.perf_counter() - started,
                            backend=self.name)
