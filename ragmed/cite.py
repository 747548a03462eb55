"""Citation check: every claim of an answer must be stated by the passage it cites, about what was asked.

Each sentence of an answer is cut into its claims (list items, clauses; ``ragmed.verify.claims``) and
each claim is scored by a verifier (``ragmed.verify``) against the passages its ``[n]`` markers cite. A
claim the cited passage does not state is tried against the few other passages most like it, and moved
there when one states it (the model numbered the citation wrongly). A claim is never backed by a passage
whose document is about another condition than the question asks, unless the claim names that condition
(``ragmed.verify.topic``), nor by a passage lacking one of its numbers, nor by a window when the claim names a
condition that neither the window names nor the passage's document is about ("Hepatitis A is caused by the
hepatitis B virus" against the hepatitis B page). A bare "Yes." or "No." states nothing checkable and is
dropped. Unsupported list items are dropped and the list is rewritten; a sentence with an unsupported clause is dropped. Kept sentences get markers
renumbered 1..N in order of first use, one ``Citation`` per supporting evidence window (the exact text and
its character span in the document). When nothing is supported the answer abstains.

Sentences can be checked one at a time as a model writes them (``CitationChecker.session``), so only
checked text is ever streamed.

Example:
    >>> checker = CitationChecker(make_verifier(VerifierSettings(backend="lexical")))
    >>> checked = checker.check("Metformin lowers glucose [2].", passages, question="How does metformin work?")  # doctest: +SKIP
    >>> checked.text, checked.citations[0].sentence  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from ragmed.safety import looks_like_injection
from ragmed.text import points_back, split_sentences, words
from ragmed.types import AnswerSentence, Citation, Passage
from ragmed.verify.base import ClaimPair, Verdict, Verifier
from ragmed.verify.claims import (
    LONGEST_BULLET,
    LONGEST_INLINE,
    Claims,
    atomic_claims,
    evidence_lists,
    list_claim,
    split_items,
    split_run_on,
)
from ragmed.verify.lexical import contrast_conflict, misquote, missing_numbers, numbers, terms
from ragmed.verify.topic import TopicJudge, conditions_of

ABSTAIN = "The retrieved evidence does not answer this question."
_TRAILING = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;\u2013-]\s*\d+)*\])+)")
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")

__all__ = ["ABSTAIN", "CheckSession", "CheckedAnswer", "CheckedSentence", "CitationChecker", "numbers",
           "sentences_of", "strip_markers", "terms"]


def strip_markers(text: str) -> tuple[str, list[int]]:
    """Remove ``[n]`` markers from ``text`` and return the text and the numbers in order ("[1-3]" expands)."""
    found: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            bounds = re.split(r"\s*[\u2013-]\s*", part)
            lo, hi = int(bounds[0]), int(bounds[-1])
            found.extend(range(lo, min(hi, lo + 20) + 1) if hi >= lo else [lo])
    return MARKER.sub("", text).strip(), list(dict.fromkeys(found))


def sentences_of(answer: str) -> list[str]:
    """The sentences of an answer, markers kept, a list header joined with what follows it."""
    answer = _TRAILING.sub(r"\2\1", answer)
    out: list[str] = []
    for s, e in split_sentences(answer):
        sentence = " ".join(answer[s:e].split())
        if out and out[-1].rstrip().endswith(":"):
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return [piece for sentence in out for piece in split_run_on(sentence)]


@dataclass
class CheckedAnswer:
    """The checked answer text with renumbered markers, its citations and per-sentence verdicts."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    abstained: bool = False
    reattributed: int = 0
    off_topic: int = 0


@dataclass
class CheckedSentence:
    """One sentence after the check: its kept text (None when dropped), the citations it first used, and
    whether unsupported items were cut from it (``trimmed``)."""

    text: str | None
    new_citations: list[Citation]
    verdict: AnswerSentence
    trimmed: bool = False


@dataclass
class _Backing:
    passage: int
    verdict: Verdict


class CitationChecker:
    """Checks answer sentences against passages; see the module docstring.

    Args:
        verifier: scores claims against evidence.
        threshold: support probability a claim needs (the default is the shipped verifier's, as in settings).
        topic: the ontology topic check (off when None).
        alternatives: other passages a claim is tried against when its citation does not state it; for a claim
            citing nothing, the passages it is tried against (at least one).
    """

    def __init__(self, verifier: Verifier, threshold: float = 0.6, topic: TopicJudge | None = None,
                 alternatives: int = 3) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.verifier, self.threshold, self.topic, self.alternatives = verifier, threshold, topic, alternatives

    def session(self, passages: Sequence[Passage], question: str = "", conditions: Iterable[str] = ()) -> CheckSession:
        """A check of one answer, fed a sentence at a time (``[n]`` is ``passages[n-1]``)."""
        return CheckSession(self, list(passages), question, set(conditions))

    def check(self, answer: str, passages: Sequence[Passage], question: str = "",
              conditions: Iterable[str] = ()) -> CheckedAnswer:
        """Check every sentence of ``answer`` against ``passages``.

        Args:
            answer: the answer text with ``[n]`` markers.
            passages: the numbered evidence.
            question: the question (claims are judged in its context).
            conditions: the question's condition CURIEs, for the topic check.

        Returns:
            Supported sentences only, markers renumbered 1..N in order of first use; ``ABSTAIN`` when
            nothing is supported.
        """
        session = self.session(passages, question, conditions)
        for sentence in sentences_of(answer):
            session.add(sentence)
        return session.result()

    def support(self, claim: str, passages: Sequence[Passage], question: str = "") -> list[Verdict]:
        """The verdict of each passage on ``claim`` (markers ignored), in passage order."""
        text, _ = strip_markers(claim)
        return self.verifier.support([ClaimPair(text, _evidence(p), question, p.title) for p in passages])


# A leading phrase that only names who or what the sentence is about: "In type 1 diabetes, ...",
# "For people with asthma, ...", "If you have gout, ...".
_LEADING = re.compile(r"^\s*(?:in|with|for|among|if you have|when you have|people with|patients with)\s+"
                      r"(?:(?:people|patients|adults|children|someone|those)\s+(?:with|who have)\s+)?[^,;:.]{3,60}?,",
                      re.IGNORECASE)


def _copied_sentence(claim: str, evidence: str) -> Verdict | None:
    """Full support and the sentence's span when ``claim`` is one of ``evidence``'s sentences word for word (case,
    spacing and final punctuation aside); None otherwise."""
    key = _sentence_key(claim)
    if len(key.split()) < 4:
        return None
    for start, end in split_sentences(evidence):
        if _sentence_key(evidence[start:end]) == key:
            return Verdict(1.0, start, end)
    return None


_LIST_WORDS = terms("include includes including common main usual usually of")
"""Words of a list's heading that say nothing about what is listed."""


def _copied_item(claim: str, evidence: str, title: str, judged: Callable[[str], str] | None = None) -> Verdict | None:
    """Full support, the list's sentence as the span, when ``claim`` is a list heading with items ("Symptoms
    include thirst and weight loss.") and ``evidence`` lists each of those items under a heading that names the
    same thing: the claim's heading has every content word of the list's (at least one), and the list's heading with
    the page's title has every content word of the claim's ("The symptoms can include - Thirst - ..." on the page
    "Diabetes Type 2" backs "Symptoms of type 2 diabetes include thirst.", not "Diabetes is thirst."). ``judged``
    takes out of a text the conditions the ontology found to be the page's own, which the claim's heading may then
    name in other words ("Symptoms of an underactive thyroid include" against "Symptoms of hypothyroidism include").
    A list under a heading that names nothing ("They may include - ...") is left to the model: what "They" stands
    for is not read here. Both headings have the same negations, cautions and time words ("Signs that it is not the flu
    include" and "Problems after a stroke include" back no "Signs of flu include", "Problems of a stroke include").
    An item is listed when one of the list's items has all its content words and the same qualifiers ("coughing"
    from "Coughing, especially at night"; see ``_lists``), or, for an item longer than an inline list's, is that item
    word for word; None otherwise."""
    parsed = list_claim(claim)
    if parsed is None:
        return None
    head, item = parsed
    wanted = split_items(item)
    if not wanted or any(not terms(part) or len(part.split()) > LONGEST_BULLET for part in wanted):
        return None
    needed = terms(head) - _LIST_WORDS
    bare = terms(judged(head)) - _LIST_WORDS if judged is not None else needed
    cautions = _HEADING_QUALIFIERS & set(words(head))
    spans = split_sentences(evidence)
    for start, end, list_head, items in evidence_lists(evidence, spans):
        named = terms(list_head) - _LIST_WORDS
        own = terms(judged(list_head)) - _LIST_WORDS if judged is not None else named
        heading = (bool(own) and own <= needed and bare <= named | terms(title)
                   and _HEADING_QUALIFIERS & set(words(list_head)) == cautions)
        if heading and all(any(_item_of(i, part) for i in items) for part in wanted):
            return Verdict(1.0, start, end)
    return None


def _item_of(listed: str, item: str) -> bool:
    """Whether the list item ``listed`` states ``item``: see ``_lists``; an item longer than an inline list's must be
    ``listed`` word for word, since its words in another order say something else."""
    if len(item.split()) > LONGEST_INLINE:
        return _sentence_key(listed) == _sentence_key(item)
    return _lists(listed, item)


_CAUTIONS = frozenset(["no", "not", "never", "none", "without", "nor", "cannot", "avoid", "avoiding", "except",
                       "unless", "only"])
_QUALIFIERS = _CAUTIONS | frozenset([
    "before", "after", "above", "below", "over", "under", "more", "less", "fewer", "most", "least", "first", "last",
    "early", "late", "higher", "lower", "increase", "increased", "decrease", "decreased", "one", "two", "three",
    "four", "five", "six", "seven", "eight", "nine", "ten", "once", "twice"])
"""Negation and caution words an item may not drop; with direction, comparison and count words, words it may not
add."""
_HEADING_QUALIFIERS = _CAUTIONS | frozenset([
    "before", "after", "during", "until", "since", "against", "neither", "than", "over", "under", "more", "less",
    "fewer", "higher", "lower", "increase", "increased", "decrease", "decreased", "first", "last", "early", "late"])
"""Words two list headings must share to name the same list: negations, cautions, time, direction and comparison."""


def _lists(listed: str, item: str) -> bool:
    """Whether the list item ``listed`` states ``item``: all of its content words and qualifiers, every negation
    or caution of ``listed`` ("pain before eating" is not "Pain after eating", "ibuprofen if you have asthma" is not
    "Ibuprofen (avoid if you have asthma)"; "coughing" is "Coughing, especially early in the morning"), and, where
    either has a number, the item word for word."""
    if numbers(listed) or numbers(item):
        return _sentence_key(listed) == _sentence_key(item)
    said, claimed = set(words(listed)), set(words(item))
    return (terms(item) <= terms(listed) and _QUALIFIERS & claimed <= said
            and _CAUTIONS & said <= claimed)


_HEDGE = re.compile(r"\b(?:the )?(?:most )?(?:common|commonest|typical|usual|main) (?=(?:[\w'-]+ ){0,6}?(?:include|includes|including|are)\b)",
                    re.IGNORECASE)


def unhedged(claim: str) -> str:
    """``claim`` as the verifier reads it: a list heading without the frequency word that only ranks what follows
    ("Common symptoms of asthma include wheezing." -> "Symptoms of asthma include wheezing."); a page's list of
    symptoms states its items, and the trained verifier refuses the hedge however plainly the page lists them."""
    plain = _HEDGE.sub("", claim)
    return plain[:1].upper() + plain[1:] if plain != claim and claim[:1].isupper() else plain


def _sentence_key(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(" .!?;:")


def contradicts(claim: str, window: str) -> bool:
    """The rules floor under the verifier: the supporting window puts a word that excludes one of the claim's
    in its place ("viral" where the claim says "bacterial", "antibiotics" where it says "antivirals")."""
    return contrast_conflict(claim, window) is not None


def _closest(claim: str, window: str) -> str:
    """The sentence of ``window`` sharing most content words with ``claim`` (the first on ties)."""
    claim_terms = terms(claim)
    sentences = [window[a:b] for a, b in split_sentences(window)] or [window]
    return max(sentences, key=lambda sentence: len(claim_terms & terms(sentence)))


def _evidence(passage: Passage) -> str:
    """The passage text with instruction-like sentences blanked (same length, so spans stay valid)."""
    text = passage.text
    for s, e in split_sentences(text):
        if looks_like_injection(text[s:e]):
            text = text[:s] + " " * (e - s) + text[e:]
    return text


class CheckSession:
    """The check of one answer in progress; see ``CitationChecker.session``."""

    def __init__(self, checker: CitationChecker, passages: list[Passage], question: str, conditions: set[str]) -> None:
        self.checker, self.passages, self.question, self.conditions = checker, passages, question, conditions
        self._evidence = [_evidence(p) for p in passages]
        self._sentence_keys = [{_sentence_key(e[a:b]) for a, b in split_sentences(e)} for e in self._evidence]
        self._evidence_terms = [terms(e) for e in self._evidence]
        self._focus: dict[int, set[str]] = {}
        self._numbering: dict[tuple[int, int, int], Citation] = {}
        self._seen: set[str] = set()
        self._bare: dict[str, str] = {}
        self._judged_text: dict[tuple[str, int], str] = {}
        self._named: dict[str, set[str]] = {}
        self.out = CheckedAnswer(text="")
        self._kept: list[str] = []

    def add(self, sentence: str) -> CheckedSentence | None:
        """Check one sentence (with its markers); None when it is not a claim (empty, a header, a repeat)."""
        text, marks = strip_markers(sentence)
        key = " ".join(text.lower().split())
        if not text or text.endswith(":") or key in self._seen or _abstention(text) or not terms(text) - _BARE_ANSWERS:
            return None
        self._seen.add(key)
        # a sentence that a passage it cites has word for word is one claim, whatever its commas look like
        cited = [m - 1 for m in marks if 1 <= m <= len(self.passages)] or range(len(self.passages))
        whole = len(key.split()) >= 4 and any(_sentence_key(key) in self._sentence_keys[i] for i in cited)
        claims = Claims("single", [text]) if whole else atomic_claims(text)
        backing = self._back_all(claims.claims, marks)
        rebuilt = claims.rebuild([b is not None for b in backing], text)
        if rebuilt is None:
            best = max((b.verdict.probability for b in backing if b is not None), default=0.0)
            verdict = AnswerSentence(text, [], False, round(best, 4))
            self.out.sentences.append(verdict)
            return CheckedSentence(None, [], verdict)
        before = len(self._numbering)
        kept = [b for b in backing if b is not None]
        ns = sorted({self._number(b) for b in kept})
        if marks and not set(b.passage + 1 for b in kept) & set(marks):
            self.out.reattributed += 1
        final = _with_markers(rebuilt, ns)
        self._kept.append(final)
        verdict = AnswerSentence(final, ns, True, round(min(b.verdict.probability for b in kept), 4))
        self.out.sentences.append(verdict)
        return CheckedSentence(final, list(self._numbering.values())[before:], verdict, trimmed=rebuilt != text)

    def _back_all(self, claims: list[str], marks: list[int]) -> list[_Backing | None]:
        """For each claim, the passage that states it on topic: a cited one when it does, else the most similar
        others; a passage about the asked condition is preferred to one that only qualifies because the claim
        names its condition."""
        cited = [m - 1 for m in marks if 1 <= m <= len(self.passages)]
        # An unmarked claim is first read against one passage, as if it cited it: the likeliest about what was asked.
        first = [cited or self._likeliest(c, [], asked_first=True)[:1] for c in claims]
        found = self._best_backing(list(zip(claims, first)))
        retry = [i for i, b in enumerate(found) if b is None or not self._on_focus(b.passage)]
        if retry:
            requests = []
            for i in retry:
                others = self._likeliest(claims[i], first[i])
                requests.append((claims[i], others[: max(0, self.checker.alternatives - (0 if cited else len(first[i])))]))
            for i, backing in zip(retry, self._best_backing(requests)):
                current = found[i]
                if backing is not None and (current is None or self._on_focus(backing.passage)):
                    found[i] = backing
        return found

    def _likeliest(self, claim: str, tried: list[int], asked_first: bool = False) -> list[int]:
        """The passages not yet ``tried`` that may back ``claim``, those sharing most of its words first (with
        ``asked_first``, those about exactly the asked condition before them)."""
        claim_terms, topic = terms(claim), self.checker.topic

        def asked(j: int) -> bool:
            return asked_first and topic is not None and bool(self.conditions & self._focus_of(j))

        return sorted((j for j in range(len(self.passages)) if j not in tried and self._usable(claim, j)),
                      key=lambda j: (not asked(j), -len(claim_terms & self._evidence_terms[j])))

    def _focus_of(self, index: int) -> set[str]:
        """The conditions passage ``index``'s document is about (``TopicJudge.focus``), found once per answer."""
        if index not in self._focus:
            topic = self.checker.topic
            self._focus[index] = topic.focus(self.passages[index]) if topic is not None else set()
        return self._focus[index]

    def _usable(self, claim: str, index: int, count: bool = False) -> bool:
        """Whether a passage may back ``claim`` at all: it holds the claim's numbers (those naming a condition,
        like the 2 of "type 2 diabetes", aside) and, when the question names conditions, it is on topic."""
        topic = self.checker.topic
        if missing_numbers(self._unnamed(claim), self._evidence[index]):
            return False
        if topic is not None and self.conditions and (topic.off_topic(self.conditions, self.passages[index], claim)
                                                       or self._borrowed(claim, index)):
            self.out.off_topic += count
            return False
        return True

    def _borrowed(self, claim: str, index: int, said: str = "") -> bool:
        """True when, on a page about a kind of the asked condition, what the claim says is said of that kind
        while the claim does not name it. On the type 1 diabetes page, under a question about diabetes in children,
        "If you do, you will need insulin for the rest of your life" follows "A blood test can show if you have
        diabetes": both the page's sentence and the claim point back to the page's kind. A claim pointing back
        ("It ...", "If you do, ...") is the kind's unless the answer's last sentence that names its subject names
        the kind; a claim backed by ``said``, a page sentence pointing back to a sentence about the page's condition,
        is the kind's however it is reworded ("If you have diabetes, you will need insulin ..."), unless the claim
        names the kind. A page sentence pointing back to something else ("Your liver is the largest organ inside
        your body. It helps your body digest food.") lends nothing."""
        topic = self.checker.topic
        if topic is None or not self.conditions or not (points_back(claim) or points_back(said)):
            return False
        focus = self._focus_of(index)
        if not topic.narrower(self.conditions, focus) or topic.names(claim, focus):
            return False
        if points_back(claim):
            antecedent = next((k for k in reversed(self._kept) if not points_back(k)), "")
            return not topic.names(antecedent, focus)
        return topic.mentions(self._before(said, index), focus)

    def _before(self, sentence: str, index: int) -> str:
        """The sentence of passage ``index`` just before ``sentence`` ("" when it is the first or not found)."""
        evidence = self._evidence[index]
        at = evidence.find(sentence) if sentence else -1
        spans = [(a, b) for a, b in split_sentences(evidence) if b <= at] if at > 0 else []
        return evidence[spans[-1][0]:spans[-1][1]] if spans else ""

    def _unnamed(self, text: str) -> str:
        """``text`` without the concepts the ontology links in it (the 2 of "type 2 diabetes" is not a number the
        evidence must hold)."""
        if text not in self._bare:
            bare = text
            topic = self.checker.topic
            if topic is not None:
                for concept in sorted(topic.ontology.link(text), key=lambda c: -(c.start or 0)):
                    if concept.start is not None and concept.end is not None:
                        bare = bare[:concept.start] + bare[concept.end:]
            self._bare[text] = bare
        return self._bare[text]

    def _judged(self, text: str, index: int) -> str:
        """``text`` without the conditions the ontology found to be the passage's own (its focus)."""
        topic = self.checker.topic
        if topic is None:
            return text
        if (text, index) not in self._judged_text:
            focus, bare = self._focus_of(index), text
            # where the page's focus has a finer concept, a lumping one ("bronchitis" for "chronic bronchitis" on
            # the acute bronchitis page) does not make the claim's condition the page's own
            fine = {f.split(":")[0] for f in focus if not topic.lumps(f)}
            for concept in sorted(topic.ontology.link(text), key=lambda c: -(c.start or 0)):
                named = conditions_of([concept], topic.ontology)
                telling = {c for c in named if not topic.lumps(c) and c.split(":")[0] in fine}
                if concept.start is not None and concept.end is not None and (telling or named) & focus:
                    bare = bare[:concept.start] + bare[concept.end:]
            self._judged_text[(text, index)] = bare
        return self._judged_text[(text, index)]

    def _stated(self, claim: str, index: int) -> str:
        """What the passage has to state: the claim without a leading phrase naming the condition the passage's
        document is about ("With type 1 diabetes, you will need insulin" -> "You will need insulin" against the
        type 1 page), since the ontology has already judged the condition and pages rarely repeat their own."""
        topic = self.checker.topic
        if topic is None:
            return claim
        match = _LEADING.match(claim)
        if match is None:
            return claim
        named = {c.curie for c in topic.ontology.link(match.group(0))}
        focus = self._focus_of(index)
        if not named or not focus or not any(topic.related(n, f) for n in named for f in focus):
            return claim
        rest = claim[match.end():].lstrip()
        return rest[:1].upper() + rest[1:] if len(terms(rest)) >= 2 else claim

    def _names_other_condition(self, claim: str, index: int, window: str) -> bool:
        """True when the claim names a condition that the supporting window does not name and the passage's
        document is not about (neither the same condition nor one above or below it in the ontology)."""
        topic = self.checker.topic
        if topic is None:
            return False
        if claim not in self._named:
            self._named[claim] = topic.named(claim)
        named = self._named[claim]
        if not named:
            return False
        backed = topic.named(window) | self._focus_of(index)
        return any(not any(topic.related(n, b) for b in backed) for n in named)

    def _misquotes(self, claim: str, index: int) -> bool:
        """True when the claim copies a sentence of the passage but changes what it says (``misquote``)."""
        topic = self.checker.topic
        return misquote(claim, self._evidence[index], topic.named if topic is not None else None,
                        self.passages[index].title,
                        (lambda text: {c.curie for c in topic.ontology.link(text)}) if topic is not None else None) is not None

    def _on_focus(self, index: int) -> bool:
        """True when the passage is about the question's conditions (or nothing says otherwise)."""
        topic = self.checker.topic
        if topic is None or not self.conditions:
            return True
        return topic.about(self.conditions, self._focus_of(index)) is not False

    def _best_backing(self, requests: list[tuple[str, list[int]]]) -> list[_Backing | None]:
        """One verifier call for every (claim, candidate passage) pair; the best backing of each claim, passages
        about the asked condition first."""
        topic = self.checker.topic
        pairs: list[tuple[int, int]] = []
        for r, (claim, candidates) in enumerate(requests):
            pairs += [(r, i) for i in candidates if self._usable(claim, i, count=True)]
        # With the question's conditions known, the ontology judges the topic; the verifier then judges only
        # whether the evidence states the claim. Without them, the question goes to the verifier as context.
        question = "" if topic is not None and self.conditions else self.question
        stated = [self._stated(requests[r][0], i) for r, i in pairs]
        # A claim that is one of the passage's own sentences, or one item of one of its lists under the same
        # heading, word for word, is stated by it: no model needed, once the ontology has judged the topic (without
        # conditions the verifier also judges the question's context).
        copied = [(_copied_sentence(claim, self._evidence[i])
                   or _copied_item(claim, self._evidence[i], self.passages[i].title, partial(self._judged, index=i)))
                  if not question else None for claim, (_, i) in zip(stated, pairs)]
        scored = iter(self.checker.verifier.support(
            [ClaimPair(unhedged(claim), self._evidence[i], question, self.passages[i].title)
             for claim, (_, i), copy in zip(stated, pairs, copied) if copy is None]))
        verdicts = [copy if copy is not None else next(scored) for copy in copied]
        best: list[_Backing | None] = [None] * len(requests)
        for (r, i), verdict in zip(pairs, verdicts):
            if verdict.probability < self.checker.threshold:
                continue
            window = self._evidence[i][verdict.start:verdict.end]
            if (contradicts(requests[r][0], window) or self._names_other_condition(requests[r][0], i, window)
                    or self._misquotes(requests[r][0], i)):
                continue
            if self._borrowed(requests[r][0], i, _closest(requests[r][0], window)):
                self.out.off_topic += 1
                continue
            current = best[r]
            rank = (self._on_focus(i), verdict.probability)
            if current is None or rank > (self._on_focus(current.passage), current.verdict.probability):
                best[r] = _Backing(i, verdict)
        return best

    def _number(self, backing: _Backing) -> int:
        p, v = self.passages[backing.passage], backing.verdict
        key = (p.chunk_id, v.start, v.end)
        if key not in self._numbering:
            self._numbering[key] = Citation(
                n=len(self._numbering) + 1, doc_id=p.doc_id, chunk_id=p.chunk_id, title=p.title,
                sentence=p.text[v.start:v.end], start=p.start + v.start, end=p.start + v.end, url=p.url,
                source=p.source, licence=p.licence, score=round(v.probability, 4))
        return self._numbering[key].n

    def kept(self) -> Iterator[str]:
        """The kept sentences so far, in order."""
        return iter(list(self._kept))

    def result(self) -> CheckedAnswer:
        """The checked answer so far."""
        self.out.citations = list(self._numbering.values())
        self.out.abstained = not self._kept
        self.out.text = ABSTAIN if self.out.abstained else " ".join(self._kept)
        return self.out


def _with_markers(text: str, ns: list[int]) -> str:
    marks = "".join(f"[{n}]" for n in sorted(set(ns)))
    m = re.search(r"[.!?]+[\"')\]]*$", text)
    return f"{text[:m.start()]} {marks}{text[m.start():]}" if m else f"{text} {marks}."


# What a bare answer to a yes/no question says: nothing a passage could state on its own.
_BARE_ANSWERS = frozenset(terms("yes no maybe perhaps possibly probably likely unlikely correct true false not indeed"))


def _abstention(sentence: str) -> bool:
    return "does not answer" in sentence.lower() and "evidence" in sentence.lower()


class SentenceStream:
    """Cuts streamed model text into whole sentences as they complete (markers kept with their sentence).

    A sentence counts as complete once the next one has begun with real words, so a marker written after
    the full stop ("... insulin. [2]") still joins it, and a list header ("include:") waits for its items.

    Example:
        >>> stream = SentenceStream()
        >>> stream.feed("Gout is arthritis [1]. It causes")
        ['Gout is arthritis [1].']
        >>> stream.close()
        ['It causes']
    """

    def __init__(self) -> None:
        self._text = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the sentences it completed."""
        self._text += text
        sentences = sentences_of(self._text)
        if len(sentences) < 2 or len(re.sub(r"\[[\d,;\s\u2013-]*\]?|[^A-Za-z]", "", sentences[-1])) < 2:
            return []
        done = sentences[self._emitted:-1]
        self._emitted = max(self._emitted, len(sentences) - 1)
        return done

    def close(self) -> list[str]:
        """The sentences not yet returned."""
        rest = sentences_of(self._text)[self._emitted:]
        self._emitted += len(rest)
        return rest
