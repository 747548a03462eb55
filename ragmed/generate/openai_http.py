"""OpenAI-compatible chat/completions backend over HTTP (vLLM, llama.cpp server, Ollama, hosted)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent

from ragmed.errors import GenerationError
from ragmed.generate.base import FLOOR, cut_at_stop, stream_with_stops

log = logging.getLogger(__name__)
_RETRY_STATUS = {429, 500, 502, 503, 504}


class OpenAIGenerator:
    """Generate through ``POST {base_url}/v1/chat/completions``; the prompt is sent as one user message.

    Args:
        base_url: server root, with or without a trailing ``/v1``.
        model: model name sent in each request.
        api_key: bearer token, if the server wants one.
        timeout_s: time limit of one request (connect, read, write).
        retries: further attempts after a connection error, a timeout or a 429/5xx answer.
        backoff_s: first wait between attempts; doubles each time.
        temperature: sampling temperature (0 = greedy).

    Example:
        >>> gen = OpenAIGenerator("http://127.0.0.1:8080", model="gemma")  # doctest: +SKIP
        >>> gen.generate("Say hi", max_new_tokens=5)  # doctest: +SKIP
    """

    name = "openai"

    def __init__(self, base_url: str, *, model: str = "default", api_key: str | None = None, timeout_s: float = 60.0,
                 retries: int = 2, backoff_s: float = 0.5, temperature: float = 0.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        root = base_url.rstrip("/")
        self.url = root + ("/chat/completions" if root.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.retries = retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)
        self.name = f"openai:{model}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _body(self, prompt: str, max_new_tokens: int, stop: list[str] | None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                "max_tokens": max_new_tokens, "temperature": self.temperature, **extra}
        if stop:
            body["stop"] = stop[:4]
        return body

    def _attempts(self) -> Iterator[int]:
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            yield attempt

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        last = ""
        for attempt in self._attempts():
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                log.warning("generator request failed", extra={"url": self.url, "attempt": attempt, "error": last})
                continue
            if response.status_code in _RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                log.warning("generator request failed", extra={"url": self.url, "attempt": attempt, "error": last})
                continue
            if response.status_code != 200:
                raise GenerationError(f"{self.url} answered HTTP {response.status_code}: {response.text[:200]}")
            try:
                return dict(response.json())
            except ValueError as exc:
                raise GenerationError(f"{self.url} sent a body that is not JSON: {response.text[:200]}") from exc
        raise GenerationError(f"{self.url} failed after {self.retries + 1} attempts: {last}")

    def generate(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> str:
        """See ``Generator.generate``."""
        data = self._post(self._body(prompt, max_new_tokens, stop))
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise GenerationError(f"{self.url} sent no choices[0].message.content: {str(data)[:200]}") from exc
        return cut_at_stop(text, stop)[0]

    def stream(self, prompt: str, *, max_new_tokens: int, stop: list[str] | None = None) -> Iterator[str]:
        """See ``Generator.stream``: server-sent events, retried only before the first token arrives."""
        return stream_with_stops(self._events(self._body(prompt, max_new_tokens, stop, stream=True)), stop)

    def _events(self, body: dict[str, Any]) -> Iterator[str]:
        last = ""
        for attempt in self._attempts():
            started = False
            try:
                with self._client.stream("POST", self.url, json=body) as response:
                    if response.status_code in _RETRY_STATUS:
                        last = f"HTTP {response.status_code}"
                        continue
                    if response.status_code != 200:
                        raise GenerationError(f"{self.url} answered HTTP {response.status_code}: {response.read()[:200]!r}")
                    for piece in _sse_pieces(EventSource(response).iter_sse()):
                        started = True
                        yield piece
                    return
            except httpx.TransportError as exc:
                if started:
                    raise GenerationError(f"{self.url} stream broke: {type(exc).__name__}: {exc}") from exc
                last = f"{type(exc).__name__}: {exc}"
            log.warning("generator stream failed", extra={"url": self.url, "attempt": attempt, "error": last})
        raise GenerationError(f"{self.url} failed after {self.retries + 1} attempts: {last}")

    def score_options(self, prompt: str, options: list[str]) -> list[float]:
        """Log-probabilities of each option's first token when the server returns ``logprobs``; otherwise
        the server is asked to reply with one option and the reply is parsed (chosen 0.0, others ``FLOOR``)."""
        if not options:
            raise ValueError("options must not be empty")
        labels = [o.strip() for o in options]
        ask = prompt + "\nReply with exactly one of: " + ", ".join(labels) + "."
        data = self._post(self._body(ask, 3, None, logprobs=True, top_logprobs=20))
        choice = (data.get("choices") or [{}])[0]
        content = ((choice.get("logprobs") or {}).get("content")) or []
        if content:
            found = {}
            for item in content[0].get("top_logprobs", []):
                token = str(item.get("token", "")).strip().lower()
                if token and token not in found:
                    found[token] = float(item.get("logprob", FLOOR))
            scores = [max((v for t, v in found.items() if label.lower().startswith(t)), default=FLOOR) for label in labels]
            if any(s > FLOOR for s in scores):
                return scores
        reply = str((choice.get("message") or {}).get("content") or "").strip().lower()
        for label in sorted(labels, key=len, reverse=True):
            if re.match(rf"\W*{re.escape(label.lower())}\b", reply):
                return [0.0 if other == label else FLOOR for other in labels]
        raise GenerationError(f"{self.url} replied {reply[:40]!r}, which is none of {labels}")


def _sse_pieces(events: Iterator[ServerSentEvent]) -> Iterator[str]:
    """Text deltas from OpenAI server-sent events (JSON ``data``, ending at ``data: [DONE]``); an event's
    ``data`` lines arrive joined, as the SSE specification says."""
    for event in events:
        payload = event.data.strip()
        if not payload:
            continue
        if payload == "[DONE]":
            return
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise GenerationError(f"malformed server-sent event: {payload[:120]}") from exc
        for choice in data.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
            if text:
                yield text
