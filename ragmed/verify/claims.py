"""Claims inside an answer sentence: the items of a list and the clauses of a compound sentence.

Each item of a list ("Symptoms include A, B and C", or "- A - B - C") and each clause of a compound
sentence ("X; Y", "X, but Y") is a claim of its own that its evidence must state.

Example:
    >>> atomic_claims("Symptoms include thirst, hunger and tiredness.").claims
    ['Symptoms include thirst.', 'Symptoms include hunger.', 'Symptoms include tiredness.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

_LIST_HEAD = re.compile(r"(\b(?:include|includes|including|such as|are|is|can be|may be)\b|:)\s+", re.IGNORECASE)
_BULLETS = re.compile(r"\s+[-\u2022*]\s+")
_COPULAS = ("are", "is", "can be", "may be")
# a past participle and its preposition after "is" that open a list: "based on", "caused by", "spread through"
_VERB_PHRASE = re.compile(r"(?:\w+ly\s+)?(?:based|caused|spread|transmitted|passed|carried|diagnosed|treated|managed|"
                          r"controlled|prevented|confirmed|measured|found|made|linked|associated|characterized|"
                          r"characterised|marked|triggered|affected|used|given|known|seen|followed)\s+"
                          r"(?:on|by|with|in|to|from|through|for|as|of|at|into)\s+", re.IGNORECASE)
# a sentence opening with a subordinate clause ("If you have ..., such as ..., call ...")
_OPENING_CLAUSE = re.compile(r"^\s*(?:if|when|whenever|although|though|because|since|unless|while|once|after|before)\b",
                             re.IGNORECASE)
# a list heading's last words: what a bulleted list after them lists
_INTRODUCED = re.compile(r"(?:\b(?:include|includes|including|such as|are|is|can be|may be)|:)\s*$", re.IGNORECASE)
_ITEM_SPLIT = re.compile(r"\s+-\s+|(?:(?<!\d),(?!\d)|;)\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+")
_CLAUSE_SPLIT = re.compile(r";\s+|,\s+but\s+|,\s+whereas\s+|,\s+while\s+")
# inside the last item of a bulleted list: a capitalised word after a lowercase one, three or more words before the end
_NEXT_SENTENCE = re.compile(r"(?<=[a-z])\s+(?=[A-Z][a-z]+(?:\s+\S+){2,}$)")


def _function_words() -> list[str]:
    """English function words (NLTK's stopwords as bm25s ships them) that can open a sentence: no contraction
    stems ("don", "ll"), and not "I", which is capitalised anywhere."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    stems = {"ll", "re", "ve", "ma", "ain"}
    return sorted(w for w in STOPWORDS_EN_PLUS
                  if w.isalpha() and (len(w) > 1 or w == "a") and w not in stems and f"{w}'t" not in STOPWORDS_EN_PLUS)


# a function word or a plural noun with a capital after a lowercase word: a sentence that a bulleted list ran into
_RUN_ON = re.compile(r"(?<=[a-z0-9)])\s+(?=(?:" + "|".join(w.capitalize() for w in _function_words())
                     + r"|Many|[A-Z][a-z]+s)\s)")


#: The most words a list item may have: a bulleted one, and one of an inline list ("A, B and C").
LONGEST_BULLET, LONGEST_INLINE = 14, 8


def list_items(sentence: str) -> tuple[str, list[str], str] | None:
    """Split a list sentence into its header, items and final punctuation, or None if it has no list. A bulleted
    list's header is all that comes before the first bullet when a list word ends it or no inline list opens before it
    ("Signs that it is not the flu, but a cold, include - Rash - ..." is headed by all of "Signs ... include")."""
    body = sentence.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else ""
    body = body[:-1] if end else body
    m = _LIST_HEAD.search(body)
    bullets = _BULLETS.search(body)
    if bullets is not None and (m is None or bullets.start() < m.end() or _INTRODUCED.search(body[:bullets.start()])
                                or not _ITEM_SPLIT.search(body[m.end():bullets.start()])):
        head, rest = body[:bullets.start()] + " ", body[bullets.start():]
        items = [i.strip(" -;\u2022*") for i in _BULLETS.split(rest) if i.strip(" -;\u2022*")]
    elif m is not None:
        if _OPENING_CLAUSE.match(body) and m.group(1).lower() in ("such as", "including"):
            return None  # examples inside an opening "If ..." clause: the sentence's own statement comes after them
        head, rest = body[:m.end()], body[m.end():]
        verb = _VERB_PHRASE.match(rest) if m.group(1).lower() in _COPULAS else None
        if verb is not None:  # "is based on A, B and C" lists A, B and C
            head, rest = head + verb.group(0), rest[verb.end():]
        items = split_items(rest)
    else:
        return None
    longest = LONGEST_BULLET if bullets is not None else LONGEST_INLINE
    if len(items) < 3 or any(len(i.split()) > longest for i in items):
        return None
    return head, items, end


def split_items(text: str) -> list[str]:
    """The items of an inline list ("wheezing, coughing and chest tightness"), split at commas (not a thousands
    comma), semicolons, "and", "or" and dashes."""
    return [i.strip(" -;") for i in _ITEM_SPLIT.split(text) if i and i.strip(" -;")]


def list_claim(claim: str) -> tuple[str, str] | None:
    """A one-item list claim split into its heading and its item ("Symptoms include thirst." ->
    ("Symptoms include", "thirst")), or None when ``claim`` has no list heading."""
    body = claim.strip().rstrip(".!?").rstrip()
    m = _LIST_HEAD.search(body)
    if m is None or not body[m.end():].strip():
        return None
    return body[:m.start()] + m.group(1), body[m.end():].strip(" -;\u2022*")


def evidence_lists(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, str, list[str]]]:
    """The lists in ``text``: for each sentence span holding one, ``(start, end, heading, items)``; a bulleted list
    that runs into the next sentence without a full stop ends where that sentence begins."""
    out = []
    for start, end in spans:
        first = split_run_on(text[start:end])[0]
        parts = list_items(first)
        if parts is None:
            continue
        head, items, _ = parts
        stop = start + len(first.rstrip(".!? "))
        last = items[-1]
        run_on = _NEXT_SENTENCE.search(last)
        if _BULLETS.search(first) and run_on is not None:
            items = [*items[:-1], last[:run_on.start()]]
            stop = start + first.rfind(last) + run_on.start()
        out.append((start, stop, head, items))
    return out


def join_items(head: str, items: Sequence[str], end: str) -> str:
    """A list sentence from a header, items and final punctuation ("A, B and C")."""
    items = [i[0].lower() + i[1:] if i[:1].isupper() and not i[:2].isupper() else i for i in items]
    body = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"{head.rstrip()} {body}{end or '.'}"


def split_run_on(sentence: str) -> list[str]:
    """A bulleted list that runs into the next sentence without a full stop, split in two.

    "Symptoms include - thirst - hunger - blurry eyesight A blood test can show it." ->
    ["Symptoms include - thirst - hunger - blurry eyesight.", "A blood test can show it."]
    """
    if not _BULLETS.search(sentence):
        return [sentence]
    last = _BULLETS.split(sentence)[-1]
    m = _RUN_ON.search(last)
    if m is None or len(last[:m.start()].split()) < 1 or len(last[m.end():].split()) < 4:
        return [sentence]
    cut = len(sentence) - len(last) + m.start()
    return [sentence[:cut].rstrip() + ".", sentence[cut:].strip()]


@dataclass
class Claims:
    """The claims of one sentence and how to put the supported ones back together."""

    kind: Literal["single", "list", "clauses"]
    claims: list[str]
    head: str = ""
    items: list[str] = field(default_factory=list)
    end: str = "."

    def rebuild(self, keep: Sequence[bool], original: str) -> str | None:
        """The sentence with only the supported claims, or None when it would not read as a sentence."""
        if not any(keep):
            return None
        if self.kind == "list":
            if all(keep):
                return original
            return join_items(self.head, [i for i, k in zip(self.items, keep) if k], self.end)
        return original if all(keep) else None


def atomic_claims(sentence: str) -> Claims:
    """The claims of ``sentence``: one per list item (with the list's header), one per clause, or itself."""
    parts = list_items(sentence)
    if parts is not None:
        head, items, end = parts
        return Claims("list", [join_items(head, [item], end) for item in items], head, items, end or ".")
    clauses = [c.strip() for c in _CLAUSE_SPLIT.split(sentence) if c.strip()]
    if len(clauses) > 1 and all(len(c.split()) >= 4 for c in clauses):
        return Claims("clauses", clauses)
    return Claims("single", [sentence])
