"""Predictors: what answers each item in a run (the engine in one of three modes, or a baseline)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from eval.items import EvalItem
from ragmed.errors import ConfigError, GenerationError
from ragmed.hashing import sha256_text
from ragmed.text import approx_tokens
from ragmed.types import Answer, AnswerEvent, LeadEvent, Passage, SentenceEvent

MODES = ("closed-book", "rag", "oracle")
#: Passages logged per question in rag mode, so recall@k curves reach k = 10.
TRACE_DEPTH = 10
_WORD_OPTIONS = {"yes", "no", "maybe"}


@dataclass
class Prediction:
    """What a predictor returned for one item, in trace-ready form."""

    choice: str | None = None
    option_scores: dict[str, float] = field(default_factory=dict)
    answer: str | None = None
    abstained: bool = False
    citations: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tokens_generated: int = 0
    prompt_hash: str | None = None
    generator: str = ""
    fallback_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Predictor(Protocol):
    """Answers one evaluation item."""

    name: str

    def predict(self, item: EvalItem) -> Prediction:
        ...


class RandomBaseline:
    """Picks an option uniformly at random, seeded by the run seed and the item id (order-free)."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def predict(self, item: EvalItem) -> Prediction:
        options = sorted(_require_options(item))
        return Prediction(choice=random.Random(f"{self.seed}:{item.id}").choice(options), generator=self.name)


class MajorityBaseline:
    """Always picks the most frequent gold answer of the item's dataset (ties: the first letter).

    Args:
        items: the whole dataset (not only the evaluated subset) whose labels give the majority.
    """

    name = "majority"

    def __init__(self, items: Sequence[EvalItem]) -> None:
        counts: dict[str, Counter[str]] = {}
        for item in items:
            if item.options and item.answer:
                counts.setdefault(item.dataset, Counter())[item.answer] += 1
        self.majority = {ds: min(c, key=lambda a: (-c[a], a)) for ds, c in counts.items()}

    def predict(self, item: EvalItem) -> Prediction:
        options = _require_options(item)
        choice = self.majority.get(item.dataset, min(options))
        return Prediction(choice=choice if choice in options else min(options), generator=self.name)


class EnginePredictor:
    """Answers through an ``Engine``: ``choose`` for choice items, streamed ``ask`` for open ones.

    Args:
        engine: an open ``ragmed.engine.Engine``.
        mode: "rag" (retrieved evidence), "oracle" (the item's gold context) or "closed-book" (none).
        generator: backend name; the engine's configured one when None.
        k: passages given as evidence (settings.retrieval.top_k when None).
    """

    def __init__(self, engine: Any, mode: str = "rag", generator: str | None = None, k: int | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.engine, self.mode, self.k = engine, mode, k or engine.settings.retrieval.top_k
        self.backend = generator or engine.settings.generation.backend
        self.name = f"{self.backend}/{mode}"

    def predict(self, item: EvalItem) -> Prediction:
        """Answer ``item``; retrieval in rag mode is logged ``TRACE_DEPTH`` deep (evidence is the top ``k``).

        Raises:
            ConfigError: oracle mode on an item without context.
            RagmedError: the engine failed on this item.
        """
        if self.mode == "oracle" and not item.context:
            raise ConfigError(f"oracle mode needs gold context, and item {item.id} has none")
        retrieved: list[Passage] = []
        timings: dict[str, float] = {}
        if item.options:
            if self.mode == "rag":  # timed before the engine's own retrieval, which then finds the query cached
                started = time.perf_counter()
                retrieved = self.engine.search(item.question, k=max(self.k, TRACE_DEPTH))
                timings["retrieval_s"] = time.perf_counter() - started
            prediction = self._choose(item, [p.text for p in retrieved[: self.k]], timings)
        else:
            prediction = self._ask(item, timings)  # its timings come from the engine
            if self.mode == "rag":
                retrieved = self.engine.search(item.question, k=max(self.k, TRACE_DEPTH))
        prediction.retrieved = [{"doc_id": p.doc_id, "chunk_id": p.chunk_id, "score": round(float(p.score), 6)}
                                for p in retrieved]
        return prediction

    def _choose(self, item: EvalItem, evidence: list[str], timings: dict[str, float]) -> Prediction:
        options = _require_options(item)
        words_only = {v.lower() for v in options.values()} <= _WORD_OPTIONS
        asked = {v.lower(): v.lower() for v in options.values()} if words_only else options
        started = time.perf_counter()
        key, scores = self.engine.choose(item.question, asked, mode=self.mode, context=item.context,
                                         k=self.k, generator=self.backend)
        timings["choose_s"] = time.perf_counter() - started
        back = {v.lower(): letter for letter, v in options.items()} if words_only else {k: k for k in options}
        return Prediction(
            choice=back.get(key), option_scores={back.get(k, k): round(float(s), 6) for k, s in scores.items()},
            abstained=key not in back, timings=timings, generator=self.backend,
            prompt_hash=_hash(self.mode, self.backend, item.question, asked,
                              item.context if self.mode == "oracle" else evidence, self.k),
        )

    def _ask(self, item: EvalItem, timings: dict[str, float]) -> Prediction:
        started = time.perf_counter()
        if self.mode == "rag":
            events = self.engine.stream(item.question, k=self.k, generator=self.backend)
        else:
            passages = [Passage(chunk_id=-1 - i, doc_id=f"context:{i}", text=t, score=1.0, start=0, end=len(t))
                        for i, t in enumerate(item.context or [])] if self.mode == "oracle" else []
            events = self.engine.answerer(self.backend).stream(item.question, passages, None)
        pieces: list[str] = []
        answer: Answer | None = None
        for event in events:
            if isinstance(event, (SentenceEvent, LeadEvent)):
                if not pieces:
                    timings["first_token_s"] = time.perf_counter() - started
                pieces.append(event.text)
            elif isinstance(event, AnswerEvent):
                answer = event.answer
        if answer is None:
            raise GenerationError("the engine's answer stream ended without an answer")
        timings.update({k: float(v) for k, v in answer.timings.items()})
        timings["answer_s"] = time.perf_counter() - started
        generated = answer.generator != "extractive" and not answer.fallback_reason
        return Prediction(
            answer=answer.text, abstained=answer.abstained, generator=answer.generator,
            fallback_reason=answer.fallback_reason, timings=timings,
            tokens_generated=self._count("".join(pieces)) if generated else 0,
            citations=[{"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "sentence": c.sentence}
                       for c in answer.citations],
            sentences=[{"text": s.text, "citations": list(s.citations), "supported": bool(s.supported)}
                       for s in answer.sentences],
            prompt_hash=_hash(self.mode, self.backend, item.question, None, [p.text for p in answer.passages], self.k),
        )

    def _count(self, text: str) -> int:
        generator = self.engine.answerer(self.backend).generator()
        count = getattr(generator, "count_tokens", None)
        return int(count(text)) if callable(count) else approx_tokens(text)


def _require_options(item: EvalItem) -> dict[str, str]:
    if not item.options:
        raise ConfigError(f"item {item.id} of {item.dataset} has no options; baselines need a classification set")
    return item.options


def _hash(*parts: Any) -> str:
    """SHA-256 of the generator's inputs (mode, backend, question, options, evidence, k)."""
    return sha256_text(json.dumps(parts, sort_keys=True, ensure_ascii=False))
