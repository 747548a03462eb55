"""Synthetic claim-evidence pairs built from indexed knowledge, split by document.

Does this evidence window state this claim (asked under this question)? Supported pairs are evidence
sentences against their own window, exact-synonym paraphrases, list subsets (in another order too), verbs
turned into possibilities ("causes" -> "can cause"), "It" replaced by the condition it stands for, dropped
clauses and two sentences of one window joined. Unsupported pairs flip a negation, change a number or a population, put an
ontology sibling in place of a condition, make two conditions trade places, add a list item or a clause
from another document, pair a claim with a similar window of another document (mined with BM25), or ask
it under a question about a sibling condition the claim does not name ("wrong topic").

Documents are grouped (a MedQuAD page's question-answer pairs, one PubMed abstract) and each group goes
wholly to ``train``, ``dev`` or ``test`` by a hash of its key, never pair by pair.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ragmed.hashing import sha256_text
from ragmed.text import split_sentences, words
from ragmed.types import Concept, Document
from ragmed.verify import perturb
from ragmed.verify.claims import list_items

Task = Literal["support"]
Split = Literal["train", "dev", "test"]
Linker = Callable[[str], list[Concept]]
Siblings = Callable[[str], list[str]]

_QUESTIONLIKE = re.compile(r"^\W*(what|how|who|which|why|when|where|is|are|do|does|can)\b.*\?\s*$", re.IGNORECASE)
_POINTER = re.compile(r"^\W*(this|these|it|they|that|those|such)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Example:
    """One training pair: ``label`` 1 when the evidence supports the claim (or answers the question)."""

    task: Task
    question: str
    claim: str
    title: str
    evidence: str
    label: int
    kind: str
    doc_id: str
    split: Split

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Sentence:
    text: str
    window: str
    doc: Document


def split_of(key: str, test_share: float = 0.1, dev_share: float = 0.1) -> Split:
    """The split of a document group, from a stable hash of its key."""
    bucket = int(sha256_text(key)[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < test_share else "dev" if bucket < test_share + dev_share else "train"


def group_key(document: Document) -> str:
    """The group a document belongs to: one MedQuAD page, or the document itself."""
    page = document.metadata.get("document_id")
    return f"{document.source}/{page}" if page else document.id


def usable(sentence: str) -> bool:
    """A sentence worth making a claim of: long enough, not a question, a pointer back or a credit line."""
    n = len(words(sentence))
    return 6 <= n <= 90 and not _QUESTIONLIKE.match(sentence) and not _POINTER.match(sentence)


def _overlap(claim: str, evidence: str) -> float:
    a, b = set(words(claim)), set(words(evidence))
    return len(a & b) / max(len(a), 1)


class PairBuilder:
    """Builds ``Example`` pairs from documents; deterministic for a seed.

    Args:
        link: links concepts in a text (with mention offsets); an empty list when no ontology is at hand.
        siblings: labels of a concept's ontology siblings.
        seed: seed of every random choice.
        forced_test: document ids whose groups go to ``test`` whatever their hash (e.g. a gold set's).
    """

    def __init__(self, link: Linker, siblings: Siblings, seed: int = 0, forced_test: Iterable[str] = ()) -> None:
        self.link, self.siblings = link, siblings
        self.rng = random.Random(seed)
        self.forced_test = set(forced_test)
        self._foci: dict[str, Concept | None] = {}

    def build(self, documents: Sequence[Document], per_document: int = 4) -> list[Example]:
        """Pairs for every document: about ``per_document`` claims each, with their perturbations."""
        groups: dict[str, Split] = {}
        for doc in documents:
            key = group_key(doc)
            if doc.id in self.forced_test:
                groups[key] = "test"
            groups.setdefault(key, split_of(key))
        sentences = self._sentences(documents)
        by_split: dict[Split, list[_Sentence]] = defaultdict(list)
        for s in sentences:
            by_split[groups[group_key(s.doc)]].append(s)
        out: list[Example] = []
        for split, pool in sorted(by_split.items()):
            out += self._support(pool, split, per_document)
        for s in self._subject_sentences(documents):
            out += self._subject_pairs(s, groups[group_key(s.doc)])
        return out

    # -- sentences -------------------------------------------------------------------
    def _sentences(self, documents: Sequence[Document]) -> list[_Sentence]:
        out = []
        for doc in documents:
            spans = split_sentences(doc.text)
            for i, (s, e) in enumerate(spans):
                text = doc.text[s:e]
                if not usable(text):
                    continue
                lo = max(0, i - self.rng.randint(0, 1))
                hi = min(len(spans) - 1, i + self.rng.randint(0, 1))
                out.append(_Sentence(" ".join(text.split()), " ".join(doc.text[spans[lo][0]:spans[hi][1]].split()), doc))
        return out

    def _subject_sentences(self, documents: Sequence[Document]) -> list[_Sentence]:
        """Sentences whose subject "It" stands for the condition the sentence before names first
        ("Psoriatic arthritis affects people with psoriasis. It causes pain ...")."""
        out = []
        for doc in documents:
            concept = self._focus(doc)
            if concept is None or not concept.mention:
                continue
            spans = split_sentences(doc.text)
            for (ps, pe), (s, e) in zip(spans, spans[1:]):
                before, text = " ".join(doc.text[ps:pe].split()), " ".join(doc.text[s:e].split())
                if text.startswith("It ") and before.lower().startswith(concept.mention.lower()) and 6 <= len(words(text)) <= 60:
                    out.append(_Sentence(text, f"{before} {text}", doc))
        return out

    def _subject_pairs(self, s: _Sentence, split: Split) -> list[Example]:
        """The "It" sentence with the condition named (supported), and with a sibling of it named (not)."""
        concept = self._focus(s.doc)
        assert concept is not None and concept.mention
        out = []
        named = perturb.name_subject(s.text, concept.mention)
        if named:
            out.append(Example("support", "", named, s.doc.title, s.window, 1, "named_subject", s.doc.id, split))
        options = self.siblings(concept.curie)
        other = perturb.name_subject(s.text, self.rng.choice(options)) if options else None
        if other:
            out.append(Example("support", "", other, s.doc.title, s.window, 0, "sibling_subject", s.doc.id, split))
        return out

    # -- support ---------------------------------------------------------------------
    def _support(self, pool: list[_Sentence], split: Split, per_document: int) -> list[Example]:
        rng = self.rng
        by_doc: dict[str, list[_Sentence]] = defaultdict(list)
        for s in pool:
            by_doc[s.doc.id].append(s)
        foreign_items = [i for s in pool if (p := list_items(s.text)) for i in p[1]]
        lexical = _Bm25([s.window for s in pool])
        out: list[Example] = []

        def add(s: _Sentence, claim: str | None, label: int, kind: str, question: str = "",
                evidence: str | None = None, title: str | None = None) -> None:
            if claim and claim.strip():
                out.append(Example("support", question, claim, s.doc.title if title is None else title,
                                   evidence if evidence is not None else s.window, label, kind, s.doc.id, split))

        for _, sentences in sorted(by_doc.items()):
            for s in sentences:
                contrast = perturb.swap_contrast(s.text, s.window, rng)
                if contrast is not None and contrast.lower() not in s.window.lower():
                    add(s, contrast, 0, "contrast")
                for _ in range(2):
                    item = perturb.list_item_claim(s.text, rng, foreign_items)
                    if item is not None:
                        add(s, item[0], item[1], "list_item_claim" if item[1] else "foreign_item")
            for s in rng.sample(sentences, min(per_document, len(sentences))):
                question = s.doc.metadata.get("question") or "" if rng.random() < 0.5 else ""
                question = question if isinstance(question, str) else ""
                concepts = self.link(s.text)
                add(s, s.text, 1, "copy", question)
                positive = (perturb.swap_synonym(s.text, concepts, rng) or perturb.list_subset(s.text, rng)
                            or perturb.drop_clause(s.text))
                add(s, positive, 1, "paraphrase", question)
                add(s, perturb.reorder_list(s.text, rng), 1, "reordered", question)
                add(s, perturb.weaken(s.text, rng), 1, "weakened", question)
                add(s, perturb.strengthen(s.text, rng), 0, "strengthened", question)
                negatives = [
                    ("negation", perturb.flip_negation(s.text, rng)),
                    ("number", perturb.change_number(s.text, rng)),
                    ("population", perturb.swap_population(s.text, rng)),
                    ("sibling", perturb.swap_sibling(s.text, concepts, self.siblings, rng)),
                    ("reversal", perturb.reverse_concepts(s.text, concepts)),
                    ("list_item", perturb.list_inject(s.text, foreign_items, rng)),
                ]
                available = [(k, c) for k, c in negatives if c and c != s.text]
                chosen = rng.sample(available, min(2, len(available)))
                for kind, claim in chosen:
                    add(s, claim, 0, kind, question)
                if chosen:  # a possibility the evidence does not state is no more stated than the fact
                    add(s, perturb.weaken(chosen[0][1], rng), 0, "weakened_negative", question)
                other = self._foreign(s, pool, lexical)
                if other is not None:
                    add(s, other.text, 0, "other_document", question)
                    add(s, perturb.weaken(other.text, rng), 0, "weakened_negative", question)
                    if rng.random() < 0.5:
                        add(s, perturb.append_clause(s.text, other.text), 0, "added_clause", question)
                neighbours = [t for t in sentences if t is not s and t.text in s.window]
                if neighbours and rng.random() < 0.3:
                    add(s, perturb.append_clause(s.text, neighbours[0].text), 1, "joined", question)
                wrong = self._sibling_question(s, concepts)
                if wrong is not None:
                    add(s, s.text, 0, "wrong_topic", wrong)
                    focus = self._focus_label(s)
                    if focus:
                        add(s, perturb.name_condition(s.text, focus), 1, "named_topic", wrong)
                if neighbours:
                    swapped = perturb.swap_with_neighbour(s.text, concepts, self.link(neighbours[0].text), rng)
                    add(s, swapped, 0, "neighbour_swap", question)
        return out

    def _foreign(self, s: _Sentence, pool: list[_Sentence], lexical: _Bm25) -> _Sentence | None:
        """A sentence of another document whose window resembles ``s``'s but does not state it."""
        for i in lexical.top(s.text, 8):
            other = pool[i]
            if other.doc.id != s.doc.id and _overlap(other.text, s.window) < 0.5 and _overlap(s.text, other.text) < 0.6:
                return other
        return None

    def _focus(self, doc: Document) -> Concept | None:
        """The condition a document is about, as its question names it."""
        if doc.id not in self._foci:
            question = doc.metadata.get("question")
            focus = [c for c in self.link(question) if c.mention] if isinstance(question, str) else []
            self._foci[doc.id] = focus[0] if focus else None
        return self._foci[doc.id]

    def _focus_label(self, s: _Sentence) -> str | None:
        """The condition the sentence's document is about, as its question names it."""
        focus = self._focus(s.doc)
        return focus.mention if focus else None

    def _sibling_question(self, s: _Sentence, concepts: list[Concept]) -> str | None:
        """The document's question asked about a sibling of its focus, when the claim does not name the focus."""
        question = s.doc.metadata.get("question")
        if not isinstance(question, str) or not question:
            return None
        focus = [c for c in self.link(question) if c.start is not None]
        named = {c.curie for c in concepts}
        for concept in focus:
            if concept.curie in named:
                continue
            options = self.siblings(concept.curie)
            if options:
                return perturb.replace_mention(question, concept, self.rng.choice(options))
        return None


def further_mix(pairs: Sequence[Example], first: Iterable[str], then: Iterable[str], size: int, seed: int,
                replay: float = 1.0) -> list[Example]:
    """The pairs for training a verifier further on kinds it has not learnt: every training pair of the ``first``
    kinds, pairs of the ``then`` kinds drawn at random up to ``size`` in all, ``replay`` times as many pairs of the
    other kinds drawn beside them (so that what it learnt holds), then every dev and test pair. Deterministic for
    a seed."""
    first, then = set(first), set(then)
    rng = random.Random(seed)
    train = [p for p in pairs if p.split == "train"]
    chosen = [p for p in train if p.kind in first]
    extra = [p for p in train if p.kind in then and p.kind not in first]
    chosen += rng.sample(extra, max(0, min(len(extra), size - len(chosen))))
    others = [p for p in train if p.kind not in first | then]
    return chosen + rng.sample(others, min(len(others), round(replay * len(chosen)))) + [p for p in pairs if p.split != "train"]


class _Bm25:
    """A small BM25 index over texts (bm25s), for mining similar windows."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._n = len(texts)
        self._retriever = bm25s.BM25()
        if texts:
            self._retriever.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)

    def top(self, query: str, k: int) -> list[int]:
        import bm25s

        if not self._n:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        ids, _ = self._retriever.retrieve(tokens, k=min(k, self._n), show_progress=False)
        return [int(i) for i in ids[0]]


def knowledge_documents(manifest_path: Path) -> list[Document]:
    """The literature documents of a knowledge manifest, with PubMedQA conclusions kept in metadata."""
    from ragmed.knowledge import load_manifest
    from ragmed.sources import read_sources
    from ragmed.types import IngestReport

    manifest = load_manifest(manifest_path)
    report = IngestReport()
    documents = [d for s in manifest.literature for d in read_sources([s.path], report, s.reader)]
    return [d for d in documents if d.text.strip()]


def ontology_helpers(concepts_path: Path | None) -> tuple[Linker, Siblings]:
    """Linking and sibling look-ups over a concept store (no-ops without one)."""
    if concepts_path is None or not concepts_path.exists():
        return (lambda text: []), (lambda curie: [])
    from ragmed.ontology.linker import get_linker
    from ragmed.ontology.store import ConceptStore

    store = ConceptStore(concepts_path)
    linker = get_linker(store)
    nice = re.compile(r"^[A-Za-z][A-Za-z0-9 '\-]{2,40}$")

    def link(text: str) -> list[Concept]:
        return [c for c in linker.link(text, merge=False) if c.curie.startswith(("DOID:", "HP:"))]

    def siblings(curie: str) -> list[str]:
        return [label for _, label in store.siblings(curie) if nice.match(label) and "obsolete" not in label]

    return link, siblings
