"""The triage classifier's input: the question's sentence embedding, its similarity to each group of bank
examples, the red-flag categories of its linked concepts, and a few cheap wording cues.

Training and inference build the vector with the same code, so they cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ragmed.types import Concept

TOP = 3
"""Bank neighbours averaged per group."""
_ABSENT = np.float32(-4.0)
"""The similarity of a padding or excluded row: below any cosine."""
_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in (
    ("now", r"\b(now|right now|just|tonight|today|this (morning|evening|afternoon)|minutes? ago|hours? ago|an hour ago|"
            r"since|suddenly|all of a sudden|keeps?|won'?t stop|still|started)\b"),
    ("first_person", r"\b(i|i'?m|im|i'?ve|ive|me|my|mine)\b"),
    ("someone_near", r"\b(my|our|his|her) (mum|mom|mother|dad|father|son|daughter|baby|child|kid|toddler|husband|wife|"
                     r"partner|boyfriend|girlfriend|friend|brother|sister|nan|gran|grandma|grandad|grandpa|granny|"
                     r"neighbou?r|flatmate|roommate|colleague|mate)\b|\b(he|she|they)('s| is| are| has| have| was)\b"),
    ("question_opener", r"^\s*(what|how|why|which|when|where|who|is|are|can|does|do|should|could|would|will)\b"),
    ("information", r"\b(signs?|symptoms?|causes?|treat(ed|ment|ments)?|risks?|prevent(ed|ion)?|difference|recovery|"
                    r"long[- ]term|usually|typically|common(ly)?|guidelines?|evidence|stud(y|ies)|trials?|efficacy|"
                    r"first[- ]line|management|explain|mean|normal)\b"),
    ("clinician", r"\b(patients?|pts?|\d+ ?y/?o|year[- ]old (man|woman|male|female)|mg/kg|dosing|titrat\w*|"
                  r"contraindicat\w*|indicat\w*|regimen|prophylaxis|adjust\w*)\b"),
    ("question_mark", r"\?\s*$"),
    ("count", r"\b\d+\s*(tablets?|pills?|capsules?|tabs?|doses?|mg|g|ml)\b"),
    ("measure", r"\b\d+(\.\d+)?\s*(°|degrees?|c\b|f\b|weeks?|kg|lbs?|months?|years?)"),
    ("past_resolved", r"\b(last (month|year|summer|winter|spring|autumn)|(weeks|months|years) ago|in (january|february|"
                      r"march|april|may|june|july|august|september|october|november|december)|was (told|diagnosed|"
                      r"checked|seen)|(said|told (me|us|him|her)) (it was|it's|its)|(ecg|bloods?|tests?|scans?|x-?rays?) "
                      r"(were|was|came back) (clear|normal|fine|ok)|(is|are|was|been|seems?) (fine|ok|okay|better|normal) "
                      r"(now|since)|playing (normally|happily|fine)|back to (normal|himself|herself)|has been fine)\b"),
    ("hypothetical", r"\b(if (it|this|that|they|he|she|i|you|we) ever|just in case|in case (it|of)|what (would|should) "
                     r"(i|we) do if|how (do|can|would|will) (i|you|we) (recogni[sz]e|spot|tell|know)|look(s)? like|"
                     r"so (i|we) (know|can spot|can recogni[sz]e)|for (a|my|our) (school|project|essay|class|course|"
                     r"exam|leaflet|training|assignment|presentation))\b"),
))
CUE_NAMES = tuple(name for name, _ in _CUES)


def cue_vector(text: str) -> np.ndarray:
    """The wording cues of ``text`` (0/1 each) and its length in words (log scale)."""
    values = [1.0 if pattern.search(text) else 0.0 for _, pattern in _CUES]
    values.append(float(np.log1p(len(text.split()))) / 4.0)
    return np.asarray(values, dtype=np.float32)


def concept_curies(concept: Concept) -> set[str]:
    """The CURIEs a linked concept stands for: its own and the ontology codes merged into it."""
    found = {concept.curie}
    for codes in concept.codes.values():
        found.update(code for code in codes if ":" in code)
    return found


class ConceptCategories:
    """Which red-flag categories each ontology concept belongs to, descendants included.

    Args:
        members: category id -> the CURIEs of its concept set (with their descendants).
        categories: category ids in the classifier's order.
    """

    def __init__(self, members: Mapping[str, Iterable[str]], categories: Sequence[str]) -> None:
        self.categories = tuple(categories)
        self._of: dict[str, set[int]] = {}
        for i, category in enumerate(self.categories):
            for curie in members.get(category, ()):
                self._of.setdefault(curie, set()).add(i)

    @classmethod
    def from_store(cls, store: Any, concept_sets: Mapping[str, Sequence[str]],
                   categories: Sequence[str]) -> ConceptCategories:
        """Expand each category's concept set with its descendants in a ``ConceptStore``."""
        descendants = store.descendants
        return cls({c: set(ids) | set(descendants(ids)) for c, ids in concept_sets.items()}, categories)

    def vector(self, concepts: Sequence[Concept]) -> np.ndarray:
        """1 for each category that one of ``concepts`` belongs to."""
        out = np.zeros(len(self.categories), dtype=np.float32)
        for concept in concepts:
            for curie in concept_curies(concept):
                for i in self._of.get(curie, ()):
                    out[i] = 1.0
        return out


class NeighbourFeatures:
    """Similarity of a question to each group of bank examples: the mean cosine of its ``TOP`` nearest.

    Args:
        embeddings: the bank's L2-normalised embeddings, one row per example.
        groups: the group index of each row.
        n_groups: number of groups.
    """

    def __init__(self, embeddings: np.ndarray, groups: np.ndarray, n_groups: int) -> None:
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.n_groups = n_groups
        sizes = np.bincount(self.groups, minlength=n_groups)
        width = max(int(sizes.max()) if len(sizes) else 0, TOP)
        # rows of each group side by side, padded with row -1 (the value appended after the similarities)
        self._members = np.full((n_groups, width), -1, dtype=np.int64)
        for g in range(n_groups):
            rows = np.flatnonzero(self.groups == g)
            self._members[g, :len(rows)] = rows

    def vector(self, embedding: np.ndarray, exclude: Iterable[int] = ()) -> np.ndarray:
        """Per group, the mean of the ``TOP`` highest cosines (rows in ``exclude`` left out)."""
        # einsum, not BLAS: a threaded BLAS product leaves its threads spinning on the cores that the triage's
        # classifier and the engine's next stages need (measured: triage p50 15 ms instead of 10 ms).
        sims = np.einsum("ij,j->i", self.embeddings, np.asarray(embedding, dtype=np.float32))
        for row in exclude:
            sims[row] = _ABSENT
        # Padding (row -1: the appended value) and excluded rows take a similarity below any cosine; the TOP best
        # of each group are taken by repeated maxima, which is much faster than a partial sort of rows that are
        # mostly padding.
        table = np.append(sims, _ABSENT)[self._members]
        rows = np.arange(table.shape[0])
        total, found = np.zeros(table.shape[0], dtype=np.float32), np.zeros(table.shape[0], dtype=np.int64)
        for _ in range(TOP):
            best = table.argmax(axis=1)
            value = table[rows, best]
            present = value > _ABSENT / 2
            total += np.where(present, value, 0.0).astype(np.float32)
            found += present
            table[rows, best] = _ABSENT
        means: np.ndarray = total / np.maximum(found, 1)
        return means.astype(np.float32)


def feature_vector(embedding: np.ndarray, neighbours: NeighbourFeatures, concept_hits: np.ndarray, text: str,
                   exclude: Iterable[int] = ()) -> np.ndarray:
    """The classifier input: embedding, neighbour similarities, concept categories, wording cues."""
    return np.concatenate([np.asarray(embedding, dtype=np.float32), neighbours.vector(embedding, exclude),
                           concept_hits, cue_vector(text)])
