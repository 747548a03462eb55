"""The answerer: triage -> relevance gate -> grounded prompt -> generator -> sentence-by-sentence check.

Nothing unchecked is ever part of an answer or of what is streamed by default: the model's text is cut
into sentences as it comes, each sentence is checked against the evidence (``ragmed.cite``) and only a
sentence that passed is streamed, as a ``SentenceEvent``. Clinicians may ask for the raw draft as well
(``draft=True``); it streams as ``DraftEvent`` pieces, labelled as unchecked, and never for the public.

Example:
    >>> answerer = Answerer(load_settings(), checker=checker)  # doctest: +SKIP
    >>> for event in answerer.stream("What causes gout?", passages, "public"):  # doctest: +SKIP
    ...     print(event.text if event.type == "sentence" else event)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ragmed.cite import ABSTAIN, CheckSession, CitationChecker, SentenceStream
from ragmed.config import Settings
from ragmed.errors import GenerationError, InvalidRequestError, MissingDependencyError, RequestCancelledError
from ragmed.generate.base import Generator
from ragmed.generate.choice import choose_option
from ragmed.generate.extractive import ExtractiveAnswerer
from ragmed.generate.factory import make_generator
from ragmed.generate.finish import drop_withheld, finish, withheld
from ragmed.generate.prompt import Prompt, answer_prompt
from ragmed.generate.relevance import RelevanceGate
from ragmed.safety import Triage, TriageResult, make_triage, redact_passages
from ragmed.text import is_blank
from ragmed.types import (
    Answer,
    AnswerEvent,
    Audience,
    Concept,
    DraftEvent,
    LeadEvent,
    Passage,
    SafetyFlag,
    SentenceEvent,
    StreamEvent,
)
from ragmed.verify.topic import conditions_of

log = logging.getLogger(__name__)
_UNSET: Any = object()
OFF_TOPIC = "The retrieved evidence is not about what was asked, so it is not quoted."


class Answerer:
    """Answers a question from retrieved passages with checked citations.

    Args:
        settings: the settings (``generation``, ``verifier`` and ``safety`` sections are used).
        embedder: optional embedder for shortlisting extractive sentences and judging relevance.
        generator: a ``Generator``; when None, the one named by ``settings.generation.backend`` is built
            on first use (None there means extractive). A backend that cannot be loaded gives an
            extractive answer whose ``fallback_reason`` says why.
        checker: the citation checker; the configured verifier without a topic check when None.
        gate: decides whether the evidence is about the question (by embedding similarity); none when
            there is no embedder, and then every passage counts.
        triage: the triage stage, used when ``stream`` is not given the question's triage; built on first
            use by ``make_triage`` (semantic with an embedder, the rules otherwise) when None.
    """

    def __init__(self, settings: Settings | None = None, embedder: Any = None, generator: Generator | None = None,
                 checker: CitationChecker | None = None, gate: RelevanceGate | None = None,
                 triage: Triage | None = None) -> None:
        settings = settings or Settings()
        if checker is None:
            from ragmed.verify import make_verifier

            checker = CitationChecker(make_verifier(settings.verifier, embedder), settings.verifier.support_threshold)
        self.settings, self.checker = settings, checker
        self.extractive = ExtractiveAnswerer(embedder)
        self.gate = gate if gate is not None or embedder is None else RelevanceGate(
            embedder, threshold=settings.verifier.relevance_threshold)
        self._generator: Any = generator if generator is not None else _UNSET
        self._load_error: str | None = None
        self._lock = threading.Lock()
        self._embedder, self._triage = embedder, triage

    def triage(self) -> Triage:
        """The triage stage used when ``stream`` is given no triage result (built on first call)."""
        if self._triage is None:
            self._triage = make_triage(self.settings, self._embedder)
        return self._triage

    def generator(self) -> Generator | None:
        """The generator in use (built on first call), or None for the extractive answer.

        Raises:
            ConfigError: the configured backend lacks a required setting.
        """
        if self._generator is _UNSET:
            try:
                self._generator = make_generator(self.settings.generation)
            except (GenerationError, MissingDependencyError) as exc:
                self._load_error = f"generator unavailable: {exc}"
                log.warning("generator unavailable, answering extractively", extra={"error": str(exc)})
                self._generator = None
        return self._generator  # type: ignore[no-any-return]

    def answer(self, question: str, passages: list[Passage], audience: Audience | None = None,
               concepts: Sequence[Concept] = (), triage: TriageResult | None = None) -> Answer:
        """A checked, cited answer to ``question`` from ``passages`` (see ``stream``)."""
        final: Answer | None = None
        for event in self.stream(question, passages, audience, concepts, triage=triage):
            if isinstance(event, AnswerEvent):
                final = event.answer
        assert final is not None
        return final

    def stream(self, question: str, passages: list[Passage], audience: Audience | None = None,
               concepts: Sequence[Concept] = (), draft: bool = False,
               triage: TriageResult | None = None,
               cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        """Stream the answer: a ``LeadEvent`` (emergency guidance, a declined request) when there is one,
        then each checked sentence as a ``SentenceEvent``, then the final ``AnswerEvent``.

        Args:
            question: the question.
            passages: retrieved evidence, best first.
            audience: "clinician" or "public" (settings' default when None).
            concepts: concepts linked in the question (their conditions drive the topic check).
            draft: also stream the model's unchecked text as ``DraftEvent`` pieces (clinicians only).
            triage: the question's triage when the caller has it (the engine does); assessed here otherwise.
                Evidence text that instructs the model or the reader is blanked before use.
            cancel: set by another thread to stop: generation stops at its next token.

        Raises:
            InvalidRequestError: ``question`` is empty, ``audience`` is unknown, or a draft is asked for the public.
            RequestCancelledError: ``cancel`` was set.
        """
        if not isinstance(question, str) or is_blank(question):
            raise InvalidRequestError("question must not be empty")
        audience = audience or self.settings.safety.audience
        if audience not in ("clinician", "public"):
            raise InvalidRequestError(f"audience must be 'clinician' or 'public', got {audience!r}")
        if draft and audience != "clinician":
            raise InvalidRequestError("draft: the unchecked draft is only streamed to the clinician audience")
        triage = triage or self.triage().assess(question, audience, concepts)
        emergencies = [e.flag() for e in triage.emergencies]
        refusal = triage.decline.flag() if triage.decline else None
        passages = redact_passages(passages)
        lead = [*emergencies, *([refusal] if refusal else [])]
        if lead:
            yield LeadEvent(" ".join(f.message for f in lead), list(lead))
        topic = self.checker.topic
        conditions = conditions_of(concepts, topic.ontology if topic is not None else None)
        started = time.perf_counter()
        relevant = self._relevant(question, passages)
        timings = {"relevance_s": round(time.perf_counter() - started, 4)}
        generator = self.generator() if relevant else None
        body: Answer | None = None
        reason = self._load_error
        if generator is not None:
            cfg = self.settings.generation
            try:
                prompt = answer_prompt(question, relevant, context_tokens=cfg.context_tokens,
                                       max_new_tokens=cfg.max_new_tokens, audience=audience,
                                       count_tokens=getattr(generator, "count_tokens", None))
                session = self.checker.session(prompt.passages, question, conditions)
                yield from self._generate(generator, prompt, session, refusal, draft, cancel)
            except (GenerationError, MissingDependencyError, ValueError) as exc:
                reason = str(exc)
                log.warning("generation failed, answering extractively", extra={"backend": generator.name, "error": reason})
            else:
                checked = session.result()
                if checked.abstained:
                    reason = "no generated sentence was stated by the evidence"
                else:
                    body = Answer(question=question, text=checked.text, citations=checked.citations,
                                  sentences=checked.sentences, passages=list(passages), generator=generator.name)
        if body is None:
            body = self._extractive(question, relevant, passages, conditions, refusal)
            body.fallback_reason = reason if generator is not None or reason else None
            if not relevant:
                body.fallback_reason = OFF_TOPIC
            if generator is not None and body.abstained:
                body.fallback_reason = reason
            for sentence in body.sentences:
                if sentence.supported:
                    yield SentenceEvent(sentence.text, [c for c in body.citations if c.n in sentence.citations])
        body.timings.update(timings)
        yield AnswerEvent(finish(body, question, audience, emergencies, refusal, self.settings.safety.disclaimer))

    def _relevant(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The passages worth answering from; none when no passage is about the question."""
        if self.gate is None:
            return list(passages)
        return self.gate.relevant(question, passages)

    def _generate(self, generator: Generator, prompt: Prompt, session: CheckSession, refusal: SafetyFlag | None,
                  draft: bool, cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        sentences = SentenceStream()
        for piece in self._timed(generator, prompt.text, prompt.stop, cancel):
            if draft:
                yield DraftEvent(piece)
            for sentence in sentences.feed(piece):
                yield from self._checked(session, sentence, refusal)
        for sentence in sentences.close():
            yield from self._checked(session, sentence, refusal)

    @staticmethod
    def _checked(session: CheckSession, sentence: str, refusal: SafetyFlag | None) -> Iterator[SentenceEvent]:
        if refusal is not None and withheld(sentence, refusal):
            return
        result = session.add(sentence)
        if result is not None and result.text is not None:
            yield SentenceEvent(result.text, result.new_citations)

    def _extractive(self, question: str, relevant: list[Passage], passages: list[Passage], conditions: set[str],
                    refusal: SafetyFlag | None) -> Answer:
        topic = self.checker.topic
        on_topic = None
        if topic is not None and conditions:
            def on_topic(p: Passage, text: str) -> bool:
                return not topic.off_topic(conditions, p, text)
        if not relevant:
            return Answer(question=question, text=ABSTAIN, passages=list(passages), abstained=True)
        answer = self.extractive.answer(question, relevant, on_topic=on_topic)
        answer.passages = list(passages)
        if refusal is not None:
            drop_withheld(answer, refusal)
        return answer

    def _timed(self, generator: Generator, prompt: str, stop: list[str],
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Run ``generator.stream`` in a worker thread; raise ``GenerationError`` past ``timeout_s`` and
        ``RequestCancelledError`` once ``cancel`` is set (the worker stops at its next token)."""
        cfg = self.settings.generation
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop_work = threading.Event()

        def stopped() -> bool:
            return stop_work.is_set() or (cancel is not None and cancel.is_set())

        def work() -> None:
            while not self._lock.acquire(timeout=0.1):
                if stopped():
                    return
            try:
                for piece in generator.stream(prompt, max_new_tokens=cfg.max_new_tokens, stop=stop):
                    if stopped():
                        return
                    out.put(("piece", piece))
                out.put(("done", None))
            except (GenerationError, MissingDependencyError, ValueError, RuntimeError, OSError) as exc:
                out.put(("error", exc))
            finally:
                self._lock.release()

        threading.Thread(target=work, daemon=True, name="ragmed-generate").start()
        deadline = time.monotonic() + cfg.timeout_s
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise RequestCancelledError("the request was cancelled during generation")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GenerationError(f"generation timed out after {cfg.timeout_s:g} s")
                try:
                    kind, value = out.get(timeout=min(left, 0.1))
                except queue.Empty:
                    continue
                if kind == "done":
                    return
                if kind == "error":
                    raise GenerationError(f"{generator.name} failed: {value}") from value
                yield value
        finally:
            stop_work.set()

    def choose(self, question: str, options: dict[str, str], passages: list[Passage]) -> tuple[str, dict[str, float]]:
        """Pick one option for a multiple-choice or yes/no/maybe question given ``passages``.

        Args:
            question: the question.
            options: option key -> option text, e.g. ``{"yes": "yes", "no": "no", "maybe": "maybe"}`` or
                ``{"A": "Aspirin", "B": "Heparin"}``.
            passages: evidence (may be empty for a closed-book answer).

        Returns:
            The chosen key and each key's score (log-likelihood for llama.cpp and transformers).

        Raises:
            InvalidRequestError: ``options`` is empty.
            GenerationError: the backend failed.
        """
        if not options:
            raise InvalidRequestError("options must not be empty")
        generator = self.generator()
        with self._lock:
            return choose_option(question, options, passages, generator, self.checker,
                                 context_tokens=self.settings.generation.context_tokens)
