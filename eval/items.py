"""The evaluation item every dataset adapter yields."""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field
from typing import Any

YES_NO_MAYBE = {"A": "yes", "B": "no", "C": "maybe"}
YES_NO = {"A": "yes", "B": "no"}


@dataclass
class EvalItem:
    """One benchmark question with whatever gold it carries.

    ``options`` maps letters to option texts for multiple-choice and yes/no(/maybe) items and is
    ``None`` for open-ended ones; ``answer`` is then the gold letter. ``long_answer`` is a reference
    text (an open-ended answer or a conclusion), ``gold_doc_ids`` the documents that answer it
    (``pmid:NNN``, ``medquad:<qid>``), ``context`` the gold evidence used by oracle mode.

    Example:
        >>> EvalItem(id="1", question="Q?", options=dict(YES_NO), answer="A").is_choice
        True
    """

    id: str
    question: str
    options: dict[str, str] | None = None
    answer: str | None = None
    gold_doc_ids: list[str] = field(default_factory=list)
    context: list[str] | None = None
    long_answer: str | None = None
    dataset: str = "custom"

    @property
    def is_choice(self) -> bool:
        """True when the item is answered by picking one of ``options``."""
        return bool(self.options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def letters(n: int) -> list[str]:
    """The first ``n`` option letters, ``A``, ``B``, ...

    Raises:
        ValueError: ``n`` is not between 1 and 26.
    """
    if not 1 <= n <= 26:
        raise ValueError(f"number of options must be between 1 and 26, got {n}")
    return list(string.ascii_uppercase[:n])


def letter_for(options: dict[str, str], answer: str) -> str | None:
    """The letter of ``answer`` in ``options``: ``answer`` itself when it is a letter, else the
    letter whose text equals it (case and surrounding spaces ignored); None when neither."""
    key = answer.strip()
    if key in options:
        return key
    if key.upper() in options and len(key) == 1:
        return key.upper()
    wanted = key.casefold()
    for letter, text in options.items():
        if text.strip().casefold() == wanted:
            return letter
    return None
