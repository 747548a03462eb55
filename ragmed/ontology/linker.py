"""Concept linking: longest-match dictionary lookup of labels and synonyms with an Aho-Corasick automaton.

Matching ignores case, punctuation, accents, possessives and plurals and respects word boundaries
(each word is one fixed-width code in the automaton, so a match can only start and end on a word); all-caps
short forms taken from synonyms ("HTN", "NIDDM") match case-sensitively. One- and two-letter terms,
stop words and generic labels ("disease") never link on their own. Each link is a ``Concept`` with
``mention``/``start``/``end`` and its codes merged across ontologies.

Example:
    >>> linker = get_linker(ConceptStore("indexes/starter/concepts.sqlite"))
    >>> [(c.curie, c.codes["ICD10CM"]) for c in linker.link("a heart attack")]
    [('DOID:5844', ['I21'])]
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from ragmed.errors import require
from ragmed.ontology import curies
from ragmed.ontology.normalise import fold, folded_words, is_abbreviation, is_junk, tokens, variants
from ragmed.ontology.store import ConceptStore
from ragmed.types import Concept

KIND_RANK = {"label": 0, "exact": 0, "related": 1, "narrow": 2, "broad": 3}
DEFAULT_PRIORITY = ("DOID", "HP", "ICD10CM", "SNOMEDCT", "UMLS", "MESH", "ORPHA", "OMIM", "SYMP")
"""Ontologies preferred, in order, when several concepts share a mention."""
DEFAULT_EXCLUDED = ("HP:0012823", "HP:0040279", "HP:0032443")
"""Branches never linked: HPO clinical modifiers ("Severity", "Recurrent"), frequencies and past medical
history ("Family history") describe a finding rather than name one."""


class _Candidate(NamedTuple):
    curie: str
    kind: int
    priority: int


class _Dictionary:
    """Terms as strings of word codes (three characters per distinct word) in one automaton.

    Fixed-width codes over a small alphabet keep the automaton quick to build; a match counts only
    when it is aligned on a word code, so terms start and end on word boundaries.
    """

    WIDTH = 3

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.terms: dict[str, list[_Candidate]] = {}
        self.automaton: Any = None

    def add(self, words: list[str], candidate: _Candidate) -> None:
        """Add one term (its normalised words) for ``candidate``."""
        codes = self.codes
        coded = "".join([codes.get(w) or self._code(w) for w in words])
        entry = self.terms.get(coded)
        if entry is None:
            self.terms[coded] = [candidate]
        elif candidate not in entry:
            entry.append(candidate)

    def build(self, ahocorasick: Any) -> None:
        """Compile the automaton once every term is in."""
        self.automaton = ahocorasick.Automaton()
        for coded, candidates in self.terms.items():
            self.automaton.add_word(coded, (len(coded) // self.WIDTH, candidates))
        self.automaton.make_automaton()

    def _code(self, word: str) -> str:
        code = self.codes[word] = _encode(len(self.codes) + 1)  # 0 codes words that are in no term
        return code

    def spans(self, words: list[str]) -> list[tuple[int, int, list[_Candidate]]]:
        """``(first word, last word, candidates)`` of every term found in ``words``."""
        if not self.terms:
            return []
        unknown = _encode(0)
        coded = "".join(self.codes.get(w, unknown) for w in words)
        out = []
        for end, (length, candidates) in self.automaton.iter(coded):
            if (end + 1) % self.WIDTH == 0:
                last = (end + 1) // self.WIDTH - 1
                out.append((last - length + 1, last, candidates))
        return out


def _encode(n: int) -> str:
    return chr(0x80 + n % 128) + chr(0x80 + (n // 128) % 128) + chr(0x80 + n // 16384)


class Linker:
    """A dictionary linker over a concept store. Build once (``get_linker`` caches it) and share.

    Args:
        store: the concept store to link against.
        scopes: synonym scopes used besides labels (narrow and broad are left out by default).
        priority: CURIE prefixes preferred, in order, among concepts that share a mention.
        excluded: concepts whose branches (the concept and all below it) are never linked.
    """

    def __init__(self, store: ConceptStore, scopes: tuple[str, ...] = ("exact", "related"),
                 priority: tuple[str, ...] = DEFAULT_PRIORITY, excluded: tuple[str, ...] = DEFAULT_EXCLUDED) -> None:
        ahocorasick = require("ahocorasick", "ontology")
        self.store = store
        self.priority = {prefix: rank for rank, prefix in enumerate(priority)}
        self._words, self._abbreviations = _Dictionary(), _Dictionary()
        allowed = {"label", *scopes}
        ranks: dict[str, int] = {}
        skipped = store.descendants(excluded)
        for curie, text, kind, _ in store.names():
            if kind not in allowed or curie in skipped:
                continue
            prefix = curie.partition(":")[0]
            rank = ranks.get(prefix)
            if rank is None:
                rank = ranks[prefix] = self._rank(curie)
            candidate = _Candidate(curie, KIND_RANK.get(kind, 4), rank)
            if is_abbreviation(text):
                self._abbreviations.add([t for t, _, _ in tokens(text)], candidate)
                continue
            for variant in variants(text):
                words = folded_words(variant)
                if not is_junk(words):
                    self._words.add(words, candidate)
        self.terms = len(self._words.terms) + len(self._abbreviations.terms)
        self._words.build(ahocorasick)
        self._abbreviations.build(ahocorasick)
        self._primary = lru_cache(maxsize=65536)(self._primary_of)  # type: ignore[method-assign]

    def _rank(self, curie: str) -> int:
        return self.priority.get(curies.split_curie(curie)[0], len(self.priority))

    def link(self, text: str, merge: bool = True) -> list[Concept]:
        """Link the concepts mentioned in ``text``, in text order, longest match first.

        Args:
            text: any text (a question, an answer sentence).
            merge: fold in the codes of equivalent concepts of other ontologies, and name the mention
                by the most preferred ontology among them (a HPO phenotype that is a DO disease comes
                back as the DOID, with the HPO id among its codes).

        Returns:
            One ``Concept`` per mention, with ``mention``, ``start`` and ``end`` set.
        """
        found = tokens(text)
        if not found:
            return []
        spans = self._words.spans([fold(t) for t, _, _ in found])
        spans += self._abbreviations.spans([t.removesuffix("'s") for t, _, _ in found])
        spans.sort(key=lambda s: (s[0] - s[1], s[0]))
        taken: set[int] = set()
        chosen = []
        for first, last, candidates in spans:
            if taken.isdisjoint(range(first, last + 1)):
                taken.update(range(first, last + 1))
                chosen.append((first, last, candidates))
        out = []
        for first, last, candidates in sorted(chosen, key=lambda s: s[0]):
            concept = self._best(candidates, merge)
            if concept is not None:
                start, end = found[first][1], found[last][2]
                out.append(replace(concept, mention=text[start:end], start=start, end=end))
        return out

    def _best(self, candidates: list[_Candidate], merge: bool) -> Concept | None:
        """The concept a mention names: the most preferred ontology (after following equivalents),
        then labels and exact synonyms before related ones."""
        if not merge:
            best = min(candidates, key=lambda c: (c.kind, c.priority, c.curie))
            return self.store.get(best.curie)
        resolved = [(self._primary(c.curie), c) for c in candidates]
        primary, _ = min(resolved, key=lambda r: (self._rank(r[0]), r[1].kind, r[1].priority, r[1].curie))
        return self.store.merged(primary)

    def _primary(self, curie: str) -> str:  # replaced by a cached wrapper in __init__
        return self._primary_of(curie)

    def _primary_of(self, curie: str) -> str:
        primary = curie
        for other, _ in self.store.equivalents(curie):
            if self._rank(other) < self._rank(primary):
                primary = other
        return primary


_CACHE: dict[tuple[str, float, int, tuple[str, ...]], Linker] = {}
_CACHE_LOCK = threading.Lock()


def get_linker(store: ConceptStore, scopes: tuple[str, ...] = ("exact", "related")) -> Linker:
    """The ``Linker`` of ``store``, built on first use and kept in memory while the file is unchanged."""
    path = Path(store.path).resolve()
    stat = path.stat()
    cache_key = (str(path), stat.st_mtime, stat.st_size, scopes)
    with _CACHE_LOCK:
        linker = _CACHE.get(cache_key)
        if linker is None:
            for old in [k for k in _CACHE if k[0] == str(path)]:
                del _CACHE[old]
            linker = _CACHE[cache_key] = Linker(store, scopes=scopes)
        elif linker.store.closed and not store.closed:
            linker.store = store  # the store it was built over was closed; this open one reads the same file
    return linker
