"""Is a passage about what the question asks? Ontology concepts decide.

A document's focus is the set of conditions it is about: the concepts of its MedQuAD focus CUIs, of its
MeSH terms, and of its title, found when it is indexed (``metadata["focus"]``) or, for documents indexed
before, linked from the title on demand. Conditions are Disease Ontology diseases and the HPO phenotypes that
name a disorder the Disease Ontology lacks (ischaemic stroke, gallstones, anaphylaxis); a concept's
equivalents in the other ontology join it (where one concept lumps several of the other's, as the Disease
Ontology's bronchitis lumps acute and chronic bronchitis, only the one named, and the lumping concept decides
only where nothing else can), and two conditions are compared only within one ontology, so a
question and a page that share no ontology are not judged. A claim answering a question about one condition is off topic
when its evidence is about another condition — not the question's own, nor one above or below it in the
ontology — unless the claim itself names that other condition: a type 1 diabetes page never supports an
unqualified claim under a type 2 diabetes question, while a page about diabetes in general may.

Example:
    >>> judge = TopicJudge(service)  # doctest: +SKIP
    >>> judge.off_topic(judge.conditions("What are the symptoms of type 2 diabetes?"), passage, "You need insulin.")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Protocol

from ragmed.types import Concept, Document, Passage

#: Ontologies whose concepts count as conditions for the topic check.
CONDITION_PREFIXES = ("DOID:", "HP:")
#: Ontologies whose concepts a claim must not name unless its evidence does: conditions and findings.
NAMED_PREFIXES = ("DOID:", "HP:")


class ConceptSource(Protocol):
    """What the topic check needs from the ontology stage."""

    def link(self, text: str) -> list[Concept]: ...

    def ancestors(self, curie: str) -> set[str]: ...

    def with_xref(self, xref: str) -> list[str]: ...

    def get(self, curie: str) -> Concept | None: ...


def document_focus(document: Document, ontology: ConceptSource) -> list[str]:
    """The conditions ``document`` is about (Disease Ontology CURIEs), for ``metadata["focus"]``."""
    card = document.metadata.get("curie")
    if isinstance(card, str):
        return [card] if card.startswith(CONDITION_PREFIXES) else []
    found: list[str] = []
    for cui in document.metadata.get("cuis") or []:
        found += [c for c in ontology.with_xref(f"UMLS:{cui}") if c.startswith(CONDITION_PREFIXES)]
    if not found:
        texts = [document.title, *(document.metadata.get("mesh") or [])]
        focus = document.metadata.get("focus")
        if isinstance(focus, str):
            texts.append(focus)
        for text in texts:
            if isinstance(text, str):
                found += conditions_of(ontology.link(text), ontology)
    return sorted(most_specific(set(found), ontology.ancestors))


def most_specific(curies: set[str], ancestors: Callable[[str], set[str]]) -> set[str]:
    """``curies`` without those that lie above another of them ("diabetes" beside "type 1 diabetes")."""
    return {c for c in curies if not any(c != other and c in ancestors(other) for other in curies)}


class TopicJudge:
    """Decides whether evidence is about the question's conditions.

    Args:
        ontology: linking, ancestors and cross-references of the index's concept store.
    """

    def __init__(self, ontology: ConceptSource) -> None:
        self.ontology = ontology
        self._ancestors = lru_cache(maxsize=4096)(ontology.ancestors)
        self._equivalents = lru_cache(maxsize=4096)(self._with_equivalents)
        self._lumping: dict[str, bool] = {}

    def conditions(self, text: str) -> set[str]:
        """The conditions named in ``text``, with their equivalents in the other ontology (only the one named,
        where a concept merges several; see ``conditions_of``)."""
        return conditions_of(self.ontology.link(text), self.ontology)

    def named(self, text: str) -> set[str]:
        """The conditions and clinical findings named in ``text`` (Disease Ontology and HPO CURIEs)."""
        return {c.curie for c in self.ontology.link(text) if c.curie.startswith(NAMED_PREFIXES)}

    def focus(self, passage: Passage) -> set[str]:
        """The conditions the passage's document is about (indexed focus, else its title linked)."""
        stored = passage.metadata.get("focus")
        if isinstance(stored, list) and stored:
            # The indexed focus may name a condition in one ontology only (a Disease Ontology disease, where the
            # question is linked to HPO): the title's conditions of the missing ontology stand beside it.
            # Where the stored condition has several equivalents in the other ontology, the title may say which
            # (the acute bronchitis page, stored as the Disease Ontology's bronchitis); otherwise all of them stand.
            certain, groups = self._equivalents(tuple(sorted(c for c in stored if isinstance(c, str))))
            focus = set(certain)  # a copy
            missing = tuple(p for p in CONDITION_PREFIXES if not any(c.startswith(p) for g in (focus, *groups) for c in g))
            titled = (conditions_of(self.ontology.link(passage.title), self.ontology)
                      if passage.title and (groups or missing) else set())
            for group in groups:
                focus |= most_specific(titled & group, self._ancestors) or group
            if missing:
                focus |= most_specific({c for c in titled if c.startswith(missing)}, self._ancestors)
            return focus
        document = Document(id=passage.doc_id, source=passage.source, title=passage.title, text="",
                            metadata=dict(passage.metadata))
        return set(document_focus(document, self.ontology))

    def _with_equivalents(self, curies: tuple[str, ...]) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
        """``curies`` with their conditions' equivalents in the other ontology where there is one, and apart, for
        each condition with several, those several."""
        out, groups = set(curies), []
        for concept in filter(None, (self.ontology.get(curie) for curie in curies)):
            for prefix in CONDITION_PREFIXES:
                codes = {code for code in concept.codes.get(prefix.rstrip(":"), []) if code.startswith(prefix)}
                if len(codes) == 1 or concept.curie.startswith(prefix):
                    out |= codes
                elif codes:
                    groups.append(frozenset(codes))
        return frozenset(out), tuple(groups)

    def about(self, asked: Iterable[str], focus: Iterable[str]) -> bool | None:
        """True when ``focus`` holds an asked condition (or one above or below it), False when it holds only
        others of the same ontology, None when the two share no ontology (nothing to judge). A concept that lumps
        a condition of the other ontology together with its kinds (the Disease Ontology's bronchitis: the HPO's
        bronchitis, acute and chronic bronchitis) is weighed only where no other pair can be: "chronic bronchitis"
        is not about the acute bronchitis page, though both are the Disease Ontology's bronchitis."""
        pairs = [(q, f) for q in asked for f in focus if q.split(":")[0] == f.split(":")[0]]
        return any(self.related(q, f) for q, f in self._telling(pairs)) if pairs else None

    def narrower(self, asked: Iterable[str], focus: Iterable[str]) -> bool:
        """True when ``focus`` is about a kind of an asked condition and never about an asked condition itself or
        one above it: the type 1 diabetes page under a question about diabetes."""
        pairs = self._telling([(q, f) for q in asked for f in focus if q.split(":")[0] == f.split(":")[0]])
        related = [(q, f) for q, f in pairs if self.related(q, f)]
        return bool(related) and all(q != f and q in self._ancestors(f) for q, f in related)

    def names(self, claim: str, focus: Iterable[str]) -> bool:
        """True when ``claim`` names a condition of ``focus`` (or one below it): "your diabetes" does not name the
        type 1 page's condition, "type 1 diabetes" does."""
        pairs = [(n, f) for n in self.conditions(claim) for f in focus if n.split(":")[0] == f.split(":")[0]]
        return any(n == f or f in self._ancestors(n) for n, f in self._telling(pairs))

    def _telling(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The pairs in which neither concept lumps kinds together, or all of them when there are none."""
        return [(a, b) for a, b in pairs if not self.lumps(a) and not self.lumps(b)] or pairs

    def lumps(self, curie: str) -> bool:
        """True when ``curie``'s equivalents in the other ontology are several, one below another."""
        if curie not in self._lumping:
            concept = self.ontology.get(curie)
            codes = {code for prefix in CONDITION_PREFIXES if not curie.startswith(prefix)
                     for code in (concept.codes.get(prefix.rstrip(":"), []) if concept else []) if code.startswith(prefix)}
            self._lumping[curie] = any(a != b and a in self._ancestors(b) for a in codes for b in codes)
        return self._lumping[curie]

    def related(self, a: str, b: str) -> bool:
        """True when ``a`` and ``b`` are the same condition or one lies above the other."""
        return a == b or a in self._ancestors(b) or b in self._ancestors(a)

    def mentions(self, text: str, focus: Iterable[str]) -> bool:
        """True when ``text`` names a condition of ``focus`` or one above or below it ("diabetes" for the type 1
        page's focus)."""
        focus = list(focus)
        return any(self.related(n, f) for n in self.conditions(text) for f in focus)

    def off_topic(self, question: Iterable[str], passage: Passage, claim: str) -> bool:
        """True when the passage is about other conditions than the question asks and the claim does not
        name them. Without conditions on either side there is nothing to judge (False)."""
        focus = self.focus(passage)
        if self.about(question, focus) is not False:
            return False
        # the claim must name the page's condition (or one below it): "your diabetes" on a type 1 page is type 1's;
        # a concept that lumps kinds together names none of them where a finer one is at hand ("chronic bronchitis"
        # does not name the acute bronchitis page's condition, though both are the Disease Ontology's bronchitis)
        return not self.names(claim, focus)


def conditions_of(concepts: Sequence[Concept], ontology: ConceptSource | None = None) -> set[str]:
    """The condition CURIEs among already linked ``concepts`` (and their merged codes).

    With ``ontology``, a mention that names one of several conditions merged into one concept keeps only that
    one of them: "acute bronchitis", linked to the Disease Ontology's bronchitis (which lists it as a synonym) with
    the HPO's bronchitis, acute bronchitis and chronic bronchitis merged in, stands for the Disease Ontology's
    bronchitis and the HPO's acute bronchitis (see ``TopicJudge.about`` for how the lumping concept is weighed)."""
    out: set[str] = set()
    for c in concepts:
        out |= _named_conditions(c, ontology)
    return out


def _named_conditions(concept: Concept, ontology: ConceptSource | None) -> set[str]:
    """The conditions one linked concept stands for; see ``conditions_of``."""
    groups = [sorted({code for code in concept.codes.get(prefix.rstrip(":"), []) if code.startswith(prefix)}
                     | ({concept.curie} if concept.curie.startswith(prefix) else set()))
              for prefix in CONDITION_PREFIXES]
    mention = _key(concept.mention or "")
    if ontology is None or not mention:
        return {code for group in groups for code in group}
    out: set[str] = set()
    for group in groups:
        named = [code for code in group if mention in _names(ontology, code)] if len(group) > 1 else []
        out.update(named or group)
    return out


def _names(ontology: ConceptSource, curie: str) -> set[str]:
    concept = ontology.get(curie)
    return {_key(n) for n in [concept.label, *concept.synonyms]} if concept is not None else set()


def _key(text: str) -> str:
    """A name as compared: lower case, without possessives, spaces or punctuation ("Pre-eclampsia" = "preeclampsia")."""
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("'s", ""))
