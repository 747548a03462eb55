"""The generator interface every backend implements."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

# Log-likelihood given to an option a backend could not score at all (kept finite so it serialises).
FLOOR = -1000.0


@runtime_checkable
class Generator(Protocol):
    """A text generator that completes a prompt and scores fixed continuations.

    Backends: ``llamacpp.LlamaCppGenerator`` (GGUF), ``hf.TransformersGenerator`` (local Hugging Face
    causal LM), ``openai_http.OpenAIGenerator`` (OpenAI-compatible HTTP server), built by
    ``factory.make_generator`` from ``GenerationSettings.backend`` (``extractive`` needs none). Every method
    raises ``GenerationError`` when the backend fails and ``ValueError`` for a non-positive ``max_new_tokens``
    or no options; ``test_generator_contract`` in ``tests/test_generate.py`` runs on every backend.
    """

    name: str

    def generate(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> str:
        """Complete ``prompt`` with at most ``max_new_tokens`` tokens, cut before the first ``stop`` string."""
        ...

    def stream(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> Iterator[str]:
        """Like ``generate``, yielding text pieces as they are produced."""
        ...

    def score_options(self, prompt: str, options: list[str]) -> list[float]:
        """Log-likelihood of each option as the continuation of ``prompt`` (higher is likelier)."""
        ...


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut ``text`` before the earliest ``stop`` string; return the text and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop or [] if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def held_back(text: str, stop: list[str] | None) -> int:
    """Characters at the end of ``text`` that may be the start of a stop string (not yet safe to emit)."""
    keep = 0
    for s in stop or []:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                keep = max(keep, k)
                break
    return keep


def stream_with_stops(pieces: Iterator[str], stop: list[str] | None) -> Iterator[str]:
    """Re-chunk ``pieces`` so that no text at or after a stop string is ever yielded."""
    buffer, sent = "", 0
    for piece in pieces:
        buffer += piece
        text, stopped = cut_at_stop(buffer, stop)
        if stopped:
            if len(text) > sent:
                yield text[sent:]
            return
        safe = len(buffer) - held_back(buffer, stop)
        if safe > sent:
            yield buffer[sent:safe]
            sent = safe
    if len(buffer) > sent:
        yield buffer[sent:]


def log_softmax_at(logits: list[float] | object, token: int) -> float:
    """log p(token) from a 1-D array of logits (numpy or torch)."""
    import numpy as np

    row = np.asarray(logits, dtype=np.float64)
    top = row.max()
    return float(row[token] - top - math.log(np.exp(row - top).sum()))
