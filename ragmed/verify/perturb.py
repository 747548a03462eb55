"""Claim perturbations for synthetic verifier training pairs.

Each function takes a sentence that its evidence states and returns a changed sentence, or None when the
change does not apply. Unsupported claims come from negation flips, changed numbers, swapped populations,
ontology siblings put in place of a condition, terms that exclude each other (viral and bacterial), two
conditions trading places, and list items taken from
another document; supported ones from exact synonyms, subsets of a list (in another order too), verbs turned
into possibilities ("causes" -> "can cause", but not "may" -> "will"), "It" replaced by the condition it stands for, and dropped trailing
clauses.
All choices come from the ``random.Random`` passed in, so a seed gives the same pairs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from ragmed.types import Concept
from ragmed.verify.claims import join_items, list_items, split_run_on
from ragmed.verify.lexical import CONTRASTS

_FLIPS: tuple[tuple[str, str], ...] = (
    (r"\bcannot\b", "can"), (r"\bcan not\b", "can"), (r"\bcan\b", "cannot"), (r"\bdoes not\b", "does"),
    (r"\bdo not\b", "do"), (r"\bdid not\b", "did"), (r"\bis not\b", "is"), (r"\bare not\b", "are"),
    (r"\bwas not\b", "was"), (r"\bwere not\b", "were"), (r"\bis\b", "is not"), (r"\bare\b", "are not"),
    (r"\bwas\b", "was not"), (r"\bwere\b", "were not"), (r"\bwill\b", "will not"), (r"\bmay\b", "may not"),
    (r"\bshould\b", "should not"), (r"\bincreases\b", "decreases"), (r"\bincreased\b", "decreased"),
    (r"\bincrease\b", "decrease"), (r"\bdecreases\b", "increases"), (r"\bdecreased\b", "increased"),
    (r"\bdecrease\b", "increase"), (r"\bhigher\b", "lower"), (r"\blower\b", "higher"), (r"\bmore\b", "less"),
    (r"\bless\b", "more"), (r"\bimproved\b", "worsened"), (r"\bimproves\b", "worsens"), (r"\breduced\b", "raised"),
    (r"\breduces\b", "raises"), (r"\bwithout\b", "with"), (r"\bno\b", "some"), (r"\bnever\b", "always"),
    (r"\balways\b", "never"), (r"\bsignificantly\b", "not significantly"), (r"\bcommon\b", "rare"),
    (r"\brare\b", "common"), (r"\bbefore\b", "after"), (r"\bafter\b", "before"), (r"\bsafe\b", "unsafe"),
    (r"\beffective\b", "ineffective"), (r"\bbenign\b", "malignant"), (r"\bcontagious\b", "not contagious"),
)
_POPULATIONS: tuple[tuple[str, str], ...] = (
    ("children", "adults"), ("adults", "children"), ("women", "men"), ("men", "women"), ("infants", "older adults"),
    ("babies", "teenagers"), ("pregnant women", "older adults"), ("older adults", "children"),
    ("elderly", "young"), ("young", "elderly"), ("boys", "girls"), ("girls", "boys"), ("teenagers", "older adults"),
    ("smokers", "nonsmokers"), ("nonsmokers", "smokers"), ("patients with diabetes", "patients without diabetes"),
)
_CONTRASTS = CONTRASTS
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.]\d)")


def _match_case(template: str, word: str) -> str:
    return word[:1].upper() + word[1:] if template[:1].isupper() else word


def flip_negation(sentence: str, rng: random.Random) -> str | None:
    """The sentence with one negation or direction word reversed ("can" -> "cannot", "higher" -> "lower")."""
    options = [(m, repl) for pattern, repl in _FLIPS for m in re.finditer(pattern, sentence, re.IGNORECASE)]
    if not options:
        return None
    m, repl = rng.choice(options)
    return sentence[:m.start()] + _match_case(m.group(0), repl) + sentence[m.end():]


def change_number(sentence: str, rng: random.Random) -> str | None:
    """The sentence with one of its numbers changed to another plausible value."""
    found = list(_NUMBER.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    value = float(m.group(1))
    decimals = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
    for _ in range(8):
        factor = rng.choice((0.5, 2.0, 3.0, 10.0, 1.5, 0.25))
        shift = rng.choice((-3, -2, -1, 1, 2, 5))
        new = value * factor if rng.random() < 0.6 else value + shift
        text = f"{new:.{decimals}f}" if decimals else str(int(round(new)))
        if text != m.group(1) and not text.startswith("-"):
            return sentence[:m.start(1)] + text + sentence[m.end(1):]
    return None


def swap_population(sentence: str, rng: random.Random) -> str | None:
    """The sentence about another population ("children" -> "adults")."""
    options = [(m, repl) for word, repl in _POPULATIONS
               for m in re.finditer(rf"\b{re.escape(word)}\b", sentence, re.IGNORECASE)]
    if not options:
        return None
    m, repl = rng.choice(options)
    return sentence[:m.start()] + _match_case(m.group(0), repl) + sentence[m.end():]


def swap_contrast(sentence: str, window: str, rng: random.Random) -> str | None:
    """The sentence with one term put in place of a term that excludes it ("viral" -> "bacterial",
    "antibiotics" -> "antivirals"), preferring a term the evidence ``window`` also uses, so that every word of
    the claim is in the evidence but the claim is not. None when the sentence names two terms of one group
    ("viral or bacterial")."""
    hard: list[tuple[re.Match[str], str]] = []
    easy: list[tuple[re.Match[str], str]] = []
    low_window = window.lower()
    for group in _CONTRASTS:
        found = [m for term in group for m in re.finditer(rf"\b{re.escape(term)}\b", sentence, re.IGNORECASE)]
        if len({m.group(0).lower() for m in found}) != 1:
            continue
        for m in found:
            for other in group:
                if other == m.group(0).lower():
                    continue
                in_window = re.search(rf"\b{re.escape(other)}\b", low_window) is not None
                (hard if in_window else easy).append((m, other))
    options = hard or easy
    if not options:
        return None
    m, repl = rng.choice(options)
    return sentence[:m.start()] + _match_case(m.group(0), repl) + sentence[m.end():]


def replace_mention(sentence: str, concept: Concept, label: str) -> str:
    """``sentence`` with ``concept``'s mention replaced by ``label`` (in the mention's case)."""
    assert concept.start is not None and concept.end is not None
    mention = sentence[concept.start:concept.end]
    label = label if not mention.islower() else label.lower()
    return sentence[:concept.start] + _match_case(mention, label) + sentence[concept.end:]


def swap_sibling(sentence: str, concepts: Sequence[Concept], siblings: Callable[[str], list[str]],
                 rng: random.Random) -> str | None:
    """The sentence with a linked condition replaced by an ontology sibling (type 2 -> type 1 diabetes)."""
    options = [(c, s) for c in concepts if c.start is not None for s in siblings(c.curie)]
    if not options:
        return None
    concept, label = rng.choice(options)
    return replace_mention(sentence, concept, label)


def swap_synonym(sentence: str, concepts: Sequence[Concept], rng: random.Random) -> str | None:
    """The sentence with a linked concept named by one of its exact synonyms (a supported paraphrase)."""
    options = [(c, s) for c in concepts if c.start is not None and c.mention
               for s in c.synonyms if s.lower() != c.mention.lower() and 3 < len(s) < 40 and "," not in s]
    if not options:
        return None
    concept, synonym = rng.choice(options)
    return replace_mention(sentence, concept, synonym)


def swap_with_neighbour(sentence: str, concepts: Sequence[Concept], neighbour_concepts: Sequence[Concept],
                        rng: random.Random) -> str | None:
    """The sentence with one of its conditions replaced by another that a neighbouring sentence of the same
    evidence names ("Viral pneumonia is treated with antivirals" -> "Bacterial pneumonia is treated with
    antivirals" beside "Bacterial pneumonia is treated with antibiotics"): every word is still in the
    evidence, but the claim is not."""
    own = {c.curie for c in concepts}
    options = [(c, n.mention) for c in concepts if c.start is not None for n in neighbour_concepts
               if n.curie not in own and n.mention and n.mention.lower() not in sentence.lower()]
    if not options:
        return None
    concept, mention = rng.choice(options)
    return replace_mention(sentence, concept, mention)


def name_condition(sentence: str, label: str) -> str:
    """The sentence with the condition it is about said first ("In type 1 diabetes, ...")."""
    body = sentence.strip()
    body = body[0].lower() + body[1:] if body[:1].isupper() and not body[:2].isupper() else body
    return f"In {label}, {body}"


def reverse_concepts(sentence: str, concepts: Sequence[Concept]) -> str | None:
    """The sentence with two distinct linked concepts trading places (not in lists or "A or B")."""
    if list_items(sentence) is not None:
        return None
    spans = [c for c in concepts if c.start is not None and c.end is not None]
    for i, first in enumerate(spans):
        for second in spans[i + 1:]:
            assert first.start is not None and first.end is not None
            assert second.start is not None and second.end is not None
            between = sentence[first.end:second.start]
            # Two conditions joined by "and", "or" or a comma trade places without changing the claim.
            if len(between.split()) < 2 or re.search(r",|\b(and|or|nor)\b|/", between):
                continue
            if first.mention and second.mention and first.mention.lower() != second.mention.lower():
                return (sentence[:first.start] + second.mention + sentence[first.end:second.start]
                        + first.mention + sentence[second.end:])
    return None


_HEADERS = ("Symptoms include", "Common symptoms include", "Signs and symptoms can include", "It can cause",
            "Possible causes include", "Treatments include", "Risk factors include", "They include")
#: Words of a plain header that any list heading may leave out.
_PLAIN_WORDS = frozenset({"include", "can", "common", "possible", "and", "they", "it"})


def list_item_claim(sentence: str, rng: random.Random, foreign: Sequence[str] = ()) -> tuple[str, int] | None:
    """One item of a list sentence stated on its own, under the list's header or a plain one ("Symptoms
    include thirst."), with label 1; or, given ``foreign`` items, an item of another list under this
    list's header, with label 0."""
    parts = list_items(sentence)
    if parts is None:
        return None
    head, items, end = parts
    if foreign and rng.random() < 0.5:
        own = {i.lower() for i in items}
        candidates = [f for f in foreign if f.lower() not in own and f.lower() not in sentence.lower()]
        if not candidates:
            return None
        return join_items(head, [rng.choice(candidates)], end), 0
    header = head if rng.random() < 0.6 else _plain_header(rng.choice(_HEADERS), head)
    return join_items(header, [rng.choice(items)], end), 1


def _plain_header(plain: str, head: str) -> str:
    """``plain`` when it says what the list's own ``head`` lists ("Symptoms include" for "The symptoms can
    include"; "They include" for any list), else ``head``: an item of a list of foods is no symptom."""
    said = {word.rstrip("s") for word in re.findall(r"[a-z]+", head.lower())}
    needed = {word.rstrip("s") for word in re.findall(r"[a-z]+", plain.lower())} - _PLAIN_WORDS
    return plain if needed <= said else head


def list_subset(sentence: str, rng: random.Random) -> str | None:
    """The list sentence keeping a random subset of its items (supported when the original is)."""
    parts = list_items(sentence)
    if parts is None:
        return None
    head, items, end = parts
    keep = sorted(rng.sample(range(len(items)), rng.randint(1, len(items) - 1)))
    return join_items(head, [items[i] for i in keep], end)


def list_inject(sentence: str, foreign: Sequence[str], rng: random.Random) -> str | None:
    """The list sentence with an item from another document's list added (unsupported)."""
    parts = list_items(sentence)
    own = {i.lower() for i in parts[1]} if parts else set()
    candidates = [f for f in foreign if f.lower() not in own and f.lower() not in sentence.lower()]
    if parts is None or not candidates:
        return None
    head, items, end = parts
    items = list(items)
    items.insert(rng.randint(0, len(items)), rng.choice(candidates))
    if rng.random() < 0.5 and len(items) > 3:
        items.pop(rng.randrange(len(items)))
        if not any(i in candidates for i in items):
            return None
    return join_items(head, items, end)


def reorder_list(sentence: str, rng: random.Random) -> str | None:
    """The list sentence with two or more of its items in another order, written inline (supported when the
    original is: "Symptoms include - Fever - Cough - Runny nose" -> "Symptoms include runny nose and fever.")."""
    sentence = split_run_on(sentence)[0]
    parts = list_items(sentence)
    longest = 8 if re.search(r"\s-\s", sentence) else 4
    if parts is None or any(len(i.split()) > longest for i in parts[1]):
        return None  # a clause taken for an item of an inline list would not read as the page's list
    head, items, end = parts
    order = list(range(len(items)))
    keep = order
    for _ in range(6):
        rng.shuffle(order)
        keep = order[:rng.randint(2, len(items))]
        if keep != sorted(keep):
            return join_items(head, [items[i] for i in keep], end)
    return None


# Present-tense verbs of what a condition or treatment does, with their base form: a page that says a thing
# happens also says it can happen.
_WEAKENED = {"causes": "cause", "affects": "affect", "leads": "lead", "increases": "increase", "reduces": "reduce",
             "lowers": "lower", "raises": "raise", "helps": "help", "prevents": "prevent", "includes": "include",
             "damages": "damage", "makes": "make", "occurs": "occur", "happens": "happen", "develops": "develop",
             "spreads": "spread", "protects": "protect", "treats": "treat", "improves": "improve",
             "blocks": "block", "produces": "produce", "triggers": "trigger", "controls": "control",
             "relieves": "relieve", "weakens": "weaken", "harms": "harm", "passes": "pass", "involves": "involve",
             "requires": "require", "results in": "result in", "gets": "get", "appears": "appear"}
# the verb, not the noun: no determiner before it ("the causes", "your needs"), no "of", "include" or
# punctuation after it ("causes of", "causes include")
_WEAKEN = re.compile(r"(?<!\bthe )(?<!\bits )(?<!\bthese )(?<!\btheir )(?<!\byour )(?<!\bmain )(?<!\bcommon )"
                     r"\b(" + "|".join(sorted(map(re.escape, _WEAKENED), key=len, reverse=True)) + r")\b"
                     r"(?!\s+(?:of|include|includes|are|is|were|was|and|or)\b)(?![,.;:)])")


def weaken(sentence: str, rng: random.Random) -> str | None:
    """The sentence with a present-tense verb turned into a possibility ("causes" -> "can cause", "may cause"),
    or None without such a verb. Supported when the original is; still unsupported when it is not."""
    found = list(_WEAKEN.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    return f"{sentence[:m.start()]}{rng.choice(('can', 'may'))} {_WEAKENED[m.group(1)]}{sentence[m.end():]}"


_MODAL = re.compile(r"\b(?:can|may|might|could)(?=\s+(?:also\s+|sometimes\s+|often\s+)?[a-z]+\b)")


def strengthen(sentence: str, rng: random.Random) -> str | None:
    """The sentence with a possibility stated as a certainty ("may cause" -> "will cause"): evidence that says a
    thing can happen does not say it will. None without such a modal verb."""
    found = list(_MODAL.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    return f"{sentence[:m.start()]}will{sentence[m.end():]}"


def name_subject(sentence: str, label: str) -> str | None:
    """A sentence whose subject is "It" with ``label`` in its place ("It causes pain." -> "Psoriatic arthritis
    causes pain."), or None when it does not start with "It"."""
    m = re.match(r"It\s+(?=[a-z])", sentence)
    if m is None or not label:
        return None
    return label[:1].upper() + label[1:] + " " + sentence[m.end():]


def drop_clause(sentence: str) -> str | None:
    """The sentence without a trailing clause (", which ...", ", and ...", ", but ..."), if it has one."""
    m = re.search(r",\s+(which|and|but|so|because|although|while|especially|including)\s", sentence)
    if m is None or m.start() < 25:
        return None
    return sentence[:m.start()].rstrip() + "."


def append_clause(sentence: str, other: str) -> str:
    """``sentence`` joined with ``other`` as one compound claim."""
    head = sentence.rstrip().rstrip(".!?")
    tail = other.strip()
    tail = tail[0].lower() + tail[1:] if tail[:2].isalpha() and not tail[:2].isupper() else tail
    return f"{head}, and {tail.rstrip('.!?')}."
