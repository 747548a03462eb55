"""``POST /v1/ask`` (JSON or Server-Sent Events) and ``POST /v1/search``."""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import sse
from api.deps import ReadAccess
from api.errors import ApiError, error_body, status_for
from api.redact import redact
from api.runtime import Runtime, get_runtime, iterate_blocking, run_blocking
from api.schemas import AskRequest, FiltersIn, SearchRequest
from api.serialize import answer_json, passage_json
from ragmed.errors import RagmedError
from ragmed.types import AnswerEvent, DraftEvent, LeadEvent, SentenceEvent, StreamEvent

router = APIRouter(prefix="/v1", tags=["ask"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer as JSON, or as Server-Sent Events: `lead` (emergency guidance, a declined request), "
                       "`sentence` (each sentence once it passed the citation check), `draft` (clinicians who asked "
                       "for it: unchecked model text), one `answer`, then `done`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def check_text(text: str, runtime: Runtime, field: str) -> str:
    """Strip ``text`` and check it is neither empty nor longer than ``api.max_question_chars``.

    Raises:
        ApiError: 422 naming ``field``.
    """
    stripped = text.strip()
    if not stripped:
        raise ApiError(422, f"{field}: must not be empty", field)
    limit = runtime.settings.api.max_question_chars
    if len(text) > limit:
        raise ApiError(422, f"{field}: {len(text)} characters exceeds the limit of {limit}", field)
    return stripped


def filters_arg(filters: FiltersIn | None) -> dict[str, Any] | None:
    """The engine's filter dict (unset fields left out), or None."""
    if filters is None:
        return None
    values = filters.model_dump(exclude_none=True)
    return values or None


def answer_kwargs(runtime: Runtime, audience: str | None, k: int | None, filters: FiltersIn | None,
                  backend: str | None = None, max_new_tokens: int | None = None,
                  limit_field: str | None = "generator.max_new_tokens") -> dict[str, Any]:
    """Keyword arguments of ``Engine.ask``/``Engine.stream`` for one request.

    Args:
        limit_field: the request field of ``max_new_tokens``; when None, a limit the engine cannot
            take per request is dropped instead of refused.

    Raises:
        ApiError: 422 naming ``limit_field`` when the engine cannot take a per-request token limit.
    """
    engine = runtime.require_engine()
    kwargs: dict[str, Any] = {"audience": audience, "k": k, "filters": filters_arg(filters), "generator": backend}
    if max_new_tokens is not None:
        if "max_new_tokens" in inspect.signature(engine.ask).parameters:
            kwargs["max_new_tokens"] = max_new_tokens
        elif limit_field is not None:
            raise ApiError(422, f"{limit_field}: this engine does not take a per-request token limit", limit_field)
    return kwargs


@router.post("/ask", summary="Answer a question with checked citations", responses=_STREAM_DOC)
async def ask(body: AskRequest, request: Request, _: ReadAccess) -> Any:
    """Answer ``question`` from the index.

    Returns the answer JSON (text with ``[n]`` markers, citations with spans and links, concepts
    with codes, safety flags, timings, index revision). With ``"stream": true`` or
    ``Accept: text/event-stream`` the answer streams as Server-Sent Events.
    """
    runtime = get_runtime(request)
    question = check_text(body.question, runtime, "question")
    request.state.question = redact(question)
    engine = runtime.require_engine()
    options = body.generator
    kwargs = answer_kwargs(runtime, body.audience, body.k, body.filters, options.backend if options else None,
                           options.max_new_tokens if options else None)
    if not (body.stream or "text/event-stream" in request.headers.get("accept", "")):
        if body.draft:
            raise ApiError(422, "draft: the unchecked draft is only sent in a stream", "draft")
        answer = await run_blocking(engine.ask, question, **kwargs)
        runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
        return answer_json(answer)
    events = iterate_blocking(engine.stream(question, draft=body.draft, **kwargs))
    first = await anext(events, None)  # retrieval runs here, so bad requests still get a 4xx status
    return StreamingResponse(_sse(runtime, first, events), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _sse(runtime: Runtime, first: StreamEvent | None, events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    event: StreamEvent | None = first
    try:
        while event is not None:
            if isinstance(event, LeadEvent):
                yield sse.event("lead", {"text": event.text, "flags": [f.to_dict() for f in event.flags]})
            elif isinstance(event, SentenceEvent):
                yield sse.event("sentence", {"text": event.text, "citations": [c.to_dict() for c in event.citations]})
            elif isinstance(event, DraftEvent):
                yield sse.event("draft", {"text": event.text, "checked": False})
            elif isinstance(event, AnswerEvent):
                answer = event.answer
                runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
                yield sse.event("answer", answer_json(answer))
            event = await anext(events, None)
    except RagmedError as exc:
        status, field = status_for(exc)
        yield sse.event("error", error_body(status, str(exc), field))
    yield sse.event("done", {})


@router.post("/search", summary="Retrieve passages")
async def search(body: SearchRequest, request: Request, _: ReadAccess) -> dict[str, Any]:
    """Return the top passages for ``query`` with scores and provenance."""
    runtime = get_runtime(request)
    query = check_text(body.query, runtime, "query")
    request.state.question = redact(query)
    engine = runtime.require_engine()
    started = time.perf_counter()
    passages = await run_blocking(engine.search, query, k=body.k, mode=body.mode, filters=filters_arg(body.filters))
    elapsed = time.perf_counter() - started
    runtime.metrics.stage.labels("search").observe(elapsed)
    return {
        "query": query,
        "count": len(passages),
        "passages": [passage_json(p) for p in passages],
        "index_revision": engine.revision,
        "timings": {"search_s": round(elapsed, 4)},
    }
