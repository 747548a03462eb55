"""The safety bank as training rows: each text with its emergency and personal labels and its neighbour group,
evaluation questions held out; shared by the linear classifiers and the fine-tuned one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ragmed.safety.bank import PERSONAL_KINDS, SafetyBank
from ragmed.safety.semantic import NONE

ROUTINE_GROUPS = ("near_miss", "routine_general", "personal_general")
_QUESTION = re.compile(r"^(what|how|why|which|when|where|who|is|are|can|could|does|do|should|would|will|am|was|has|"
                       r"have)\b|\b(should i|can i|is it|is that|do i|does it|will (he|she|they))\b", re.IGNORECASE)


def restyle(text: str) -> str:
    """``text`` as written with care: a capital first letter and a closing question mark or full stop. The
    bank is mostly typed fast (lower case, no question mark); questions arrive both ways."""
    styled = text.strip()
    styled = styled[:1].upper() + styled[1:]
    if styled and styled[-1] not in ".?!":
        styled += "?" if _QUESTION.search(styled) else "."
    return styled


@dataclass
class BankRows:
    """The bank as classifier rows."""

    texts: list[str] = field(default_factory=list)
    emergency: list[str] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


class HeldOut:
    """Evaluation texts to keep out of training, found exactly or nearly (difflib ratio, after a shared-word
    prefilter), ignoring case and punctuation."""

    def __init__(self, texts: Iterable[str], ratio: float = 0.9) -> None:
        self.keys = [_key(t) for t in texts]
        self.ratio = ratio
        self._exact = set(self.keys)
        self._by_word: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            for word in set(key.split()):
                self._by_word.setdefault(word, []).append(i)

    def __contains__(self, text: object) -> bool:
        key = _key(str(text))
        if key in self._exact:
            return True
        words = set(key.split())
        shared: dict[int, int] = {}
        for word in words:
            for i in self._by_word.get(word, ()):
                shared[i] = shared.get(i, 0) + 1
        matcher = SequenceMatcher(None, key)
        for i, count in shared.items():
            other = self.keys[i]
            if count < 0.5 * len(words) or min(len(key), len(other)) < self.ratio * max(len(key), len(other)):
                continue
            matcher.set_seq1(other)
            if matcher.quick_ratio() >= self.ratio and matcher.ratio() >= self.ratio:
                return True
        return False


def bank_rows(bank: SafetyBank, held_out: Iterable[str] = ()) -> tuple[BankRows, list[str]]:
    """Every presentation, routine and personal text with its emergency and personal labels and its
    neighbour group (texts nearly equal to a ``held_out`` evaluation question are left out and counted in
    ``excluded``); returns the rows and the group names."""
    group_names = [*bank.category_ids, *PERSONAL_KINDS, *ROUTINE_GROUPS]
    index = {name: i for i, name in enumerate(group_names)}
    rows = BankRows()
    held = HeldOut(held_out)

    def add(text: str, emergency: str, personal: str, group: str) -> None:
        if text in held:
            rows.excluded.append(text)
            return
        rows.texts.append(text)
        rows.emergency.append(emergency)
        rows.personal.append(personal)
        rows.groups.append(index[group])

    for e in bank.examples("presentations"):
        add(e.text, e.label, NONE, e.label)
    for e in bank.examples("routine"):
        add(e.text, NONE, NONE, "near_miss" if e.group == "near_miss" else "routine_general")
    for e in bank.examples("personal"):
        if e.label == "general":
            add(e.text, NONE, NONE, "personal_general")
        else:
            add(e.text, NONE, e.label, e.label)
    return rows, group_names
