"""The triage stage: which emergency guidance comes first, and which personal requests are declined.

``Triage`` is the stage's interface; ``RuleTriage`` (the rules alone) and ``SemanticTriage`` (the
default: ontology concepts, a classifier over the question's sentence embedding and similarity to the
bank's presentations, with the rules as a floor) implement it. ``make_triage`` picks one from settings.

Example:
    >>> triage = make_triage(settings, embedder=engine.embedder, concept_store=store)  # doctest: +SKIP
    >>> result = triage.assess("my dad's face has dropped on one side", "public")  # doctest: +SKIP
    >>> [e.category for e in result.emergencies]  # doctest: +SKIP
    ['stroke']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ragmed.types import Audience, Concept, SafetyFlag


@dataclass(frozen=True)
class Emergency:
    """Emergency guidance to show before anything else, with the public page it comes from."""

    category: str
    title: str
    message: str
    source_name: str
    source_url: str
    score: float = 1.0
    by_rule: bool = False

    def flag(self) -> SafetyFlag:
        """The answer flag: guidance first, then its source."""
        return SafetyFlag(kind="emergency", rule=self.category, source=self.source_name, url=self.source_url,
                          message=f"{self.message} (Source: {self.source_name}, {self.source_url})")


@dataclass(frozen=True)
class Decline:
    """A personal request declined for the public: why, and who can help."""

    kind: str
    message: str
    source_name: str
    source_url: str
    score: float = 1.0
    by_rule: bool = False

    def flag(self) -> SafetyFlag:
        """The answer flag; ``rule`` is the kind (answers to the dose kinds lose every stated amount)."""
        return SafetyFlag(kind="declined", rule=self.kind,
                          message=self.message + " General information follows.", source=self.source_name,
                          url=self.source_url)


DOSING_KINDS = ("dose", "dose_change", "weight_age_dose", "missed_double", "start_stop")
"""Personal kinds whose answers lose every sentence that states an amount."""


@dataclass
class TriageResult:
    """What the triage found in one question.

    Attributes:
        emergencies: guidance to show first, most likely first (empty for most questions).
        decline: the personal request declined for the public, or None.
        scores: each category's probability (and ``personal`` for the personal-request probability).
        seconds: time the assessment took.
        backend: the backend's name.
    """

    emergencies: list[Emergency] = field(default_factory=list)
    decline: Decline | None = None
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    backend: str = ""

    @property
    def is_emergency(self) -> bool:
        return bool(self.emergencies)

    def flags(self) -> list[SafetyFlag]:
        """Answer flags: emergency guidance first, then the decline."""
        return [e.flag() for e in self.emergencies] + ([self.decline.flag()] if self.decline else [])

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@runtime_checkable
class Triage(Protocol):
    """The triage stage's interface: one question in, a ``TriageResult`` out.

    Implementations never decline for the ``clinician`` audience; emergency guidance is given to both.
    """

    name: str

    def assess(self, question: str, audience: Audience, concepts: Sequence[Concept] = (),
               embed_text: str | None = None) -> TriageResult:
        """Assess ``question``.

        Args:
            question: the question as asked.
            audience: ``public`` or ``clinician``.
            concepts: ontology concepts linked in the question (``Engine.concepts``), if any.
            embed_text: the text whose embedding to use when it differs from ``question`` (the expanded
                query retrieval already embedded, so the embedding comes from the query cache).

        Raises:
            InvalidRequestError: an empty question or an unknown audience.
        """
        ...
