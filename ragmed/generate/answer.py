"""The answerer: grounded prompt -> generator -> citation check -> safety, with an extractive fallback.

Example:
    >>> answerer = Answerer(load_settings(), embedder=engine.embedder)  # doctest: +SKIP
    >>> for event in answerer.stream("What causes gout?", passages, "public"):  # doctest: +SKIP
    ...     print(event["text"] if event["type"] == "token" else event["answer"].citations)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from ragmed.cite import CitationChecker, Embedder
from ragmed.config import Settings
from ragmed.errors import GenerationError
from ragmed.generate.base import Generator
from ragmed.generate.choice import choose_option
from ragmed.generate.extractive import ExtractiveAnswerer
from ragmed.generate.factory import make_generator
from ragmed.generate.finish import finish
from ragmed.generate.prompt import answer_prompt
from ragmed.safety import Triage, TriageResult, make_triage, redact_passages
from ragmed.types import Answer, Audience, Passage

log = logging.getLogger(__name__)
_UNSET: Any = object()


class Answerer:
    """Answers a question from retrieved passages with checked citations.

    Args:
        settings: the settings (``generation`` and ``safety`` sections are used).
        embedder: optional embedder for the citation check and the extractive answer.
        generator: a ``Generator``; when None, the one named by ``settings.generation.backend`` is built
            on first use (None there means extractive). A backend that cannot be loaded gives an
            extractive answer whose ``fallback_reason`` says why.
        triage: the triage stage; when None, ``make_triage`` builds it on first use (semantic with an
            embedder, the rules otherwise).
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None, triage: Triage | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder
        self.checker = CitationChecker(self.settings.generation.support_threshold, embedder)
        self.extractive = ExtractiveAnswerer(embedder)
        self._generator: Any = generator if generator is not None else _UNSET
        self._load_error: str | None = None
        self._lock = threading.Lock()
        self._triage = triage

    def triage(self) -> Triage:
        """The triage stage in use (built on first call)."""
        if self._triage is None:
            self._triage = make_triage(self.settings, self.embedder)
        return self._triage

    def generator(self) -> Generator | None:
        """The generator in use (built on first call), or None for the extractive answer.

        Raises:
            ConfigError: the configured backend lacks a required setting.
        """
        if self._generator is _UNSET:
            try:
                self._generator = make_generator(self.settings.generation)
            except GenerationError as exc:
                self._load_error = f"generator unavailable: {exc}"
                log.warning("generator unavailable, answering extractively", extra={"error": str(exc)})
                self._generator = None
        return self._generator  # type: ignore[no-any-return]

    def answer(self, question: str, passages: list[Passage], audience: Audience | None = None,
               triage: TriageResult | None = None) -> Answer:
        """A checked, cited answer to ``question`` from ``passages`` (see ``stream``)."""
        final: Answer | None = None
        for event in self.stream(question, passages, audience, triage=triage):
            if event["type"] == "answer":
                final = event["answer"]
        assert final is not None
        return final

    def stream(self, question: str, passages: list[Passage], audience: Audience | None = None,
               triage: TriageResult | None = None) -> Iterator[dict[str, Any]]:
        """Stream the answer: ``{"type": "token", "text": ...}`` events, then ``{"type": "answer", "answer": Answer}``.

        Emergency guidance, when the question has red flags, is the first token event. Tokens are the
        model's raw text; the final ``Answer`` holds only sentences that passed the citation check.
        ``triage`` is the question's triage when the caller has it (the engine does); evidence text that
        instructs the model or the reader is blanked before use.

        Raises:
            ValueError: ``question`` is empty or ``audience`` is unknown.
        """
        if not question or not question.strip():
            raise ValueError("question must not be empty")
        audience = audience or self.settings.safety.audience
        if audience not in ("clinician", "public"):
            raise ValueError(f"audience must be 'clinician' or 'public', got {audience!r}")
        triage = triage or self.triage().assess(question, audience)
        emergencies = [e.flag() for e in triage.emergencies]
        refusal = triage.decline.flag() if triage.decline else None
        passages = redact_passages(passages)
        lead = " ".join(f.message for f in emergencies + ([refusal] if refusal else []))
        if lead:
            yield {"type": "token", "text": lead + "\n\n"}
        generator = self.generator()
        body: Answer | None = None
        reason = self._load_error
        if generator is not None:
            pieces: list[str] = []
            try:
                prompt = answer_prompt(question, passages, context_tokens=self.settings.generation.context_tokens,
                                       max_new_tokens=self.settings.generation.max_new_tokens, audience=audience,
                                       count_tokens=getattr(generator, "count_tokens", None))
                for piece in self._timed(generator, prompt.text, prompt.stop):
                    pieces.append(piece)
                    yield {"type": "token", "text": piece}
            except (GenerationError, ValueError) as exc:
                reason = str(exc)
                log.warning("generation failed, answering extractively", extra={"backend": generator.name, "error": reason})
            else:
                raw = "".join(pieces)
                checked = self.checker.check(raw, prompt.passages)
                if checked.abstained and "does not answer" not in raw.lower():
                    reason = "no generated sentence was supported by the evidence"
                else:
                    body = Answer(question=question, text=checked.text, citations=checked.citations,
                                  sentences=checked.sentences, passages=list(passages), abstained=checked.abstained,
                                  generator=generator.name)
        if body is None:
            body = self.extractive.answer(question, passages)
            body.fallback_reason = reason
            yield {"type": "token", "text": ("\n" if generator is not None else "") + body.text}
        yield {"type": "answer", "answer": finish(body, question, audience, emergencies, refusal, self.settings.safety.disclaimer)}

    def _timed(self, generator: Generator, prompt: str, stop: list[str]) -> Iterator[str]:
        """Run ``generator.stream`` in a worker thread; raise ``GenerationError`` past ``timeout_s``."""
        cfg = self.settings.generation
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()

        def work() -> None:
            with self._lock:
                try:
                    for piece in generator.stream(prompt, max_new_tokens=cfg.max_new_tokens, stop=stop):
                        if cancel.is_set():
                            return
                        out.put(("piece", piece))
                    out.put(("done", None))
                except (GenerationError, ValueError, RuntimeError, OSError) as exc:
                    out.put(("error", exc))

        threading.Thread(target=work, daemon=True, name="ragmed-generate").start()
        deadline = time.monotonic() + cfg.timeout_s
        try:
            while True:
                try:
                    kind, value = out.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    raise GenerationError(f"generation timed out after {cfg.timeout_s:g} s") from None
                if kind == "done":
                    return
                if kind == "error":
                    raise GenerationError(f"{generator.name} failed: {value}") from value
                yield value
        finally:
            cancel.set()

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
            ValueError: ``options`` is empty.
            GenerationError: the backend failed.
        """
        if not options:
            raise ValueError("options must not be empty")
        generator = self.generator()
        with self._lock:
            return choose_option(question, options, passages, generator, self.checker,
                                 context_tokens=self.settings.generation.context_tokens)

