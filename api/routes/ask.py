"""``POST /v1/ask`` (JSON or Server-Sent Events) and ``POST /v1/search``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from api.deps import Caller, ReadAccess
from api.errors import ApiError, error_body, status_for
from api.middleware import note_text
from api.openapi import BODY, ENGINE, READ, errors, sse_content
from api.responses import SSE_EVENTS, AnswerOut, ErrorBody, LeadPayload, SearchOut, SentencePayload
from api.runtime import Runtime, get_runtime, run_blocking
from api.schemas import AskRequest, FiltersIn, SearchRequest
from api.serialize import answer_json, citation_json, passage_json
from api.work import Job, cancelled_on_disconnect
from ragmed.errors import RagmedError
from ragmed.types import AnswerEvent, DraftEvent, LeadEvent, Passage, SentenceEvent, SkippedShard, StreamEvent

router = APIRouter(prefix="/v1", tags=["ask"])

_STREAM_DOC = (
    "The answer as JSON, or as Server-Sent Events: `lead` (emergency guidance, a declined request), `sentence` (each "
    "sentence once it passed the citation check), `draft` (clinicians who asked for it: unchecked model text), one "
    "`answer`, then `done`; `error` replaces `answer` when the answer fails mid-stream."
)


def check_text(text: str, runtime: Runtime, field: str) -> str:
    """Strip ``text`` and check it is not longer than ``api.max_question_chars`` (blank text is refused by
    the request models).

    Raises:
        ApiError: 422 naming ``field``.
    """
    limit = runtime.settings.api.max_question_chars
    if len(text) > limit:
        raise ApiError(422, f"{field}: {len(text)} characters exceeds the limit of {limit}", field)
    return text.strip()


def filters_arg(filters: FiltersIn | None) -> dict[str, Any] | None:
    """The engine's filter dict (unset fields left out), or None."""
    if filters is None:
        return None
    values = filters.model_dump(exclude_none=True)
    return values or None


def answer_kwargs(runtime: Runtime, caller: Caller, audience: str | None, k: int | None, filters: FiltersIn | None,
                  backend: str | None = None, max_new_tokens: int | None = None,
                  fields: tuple[str, str] = ("generator.backend", "generator.max_new_tokens")) -> dict[str, Any]:
    """Keyword arguments of ``Engine.stream`` for one request.

    Raises:
        ApiError: 401/403 naming the field when another backend than the server's, or a token limit above its
            default, is asked for without the ``generate`` permission.
    """
    generation = runtime.settings.generation
    if backend is not None and backend != generation.backend:
        caller.require("generate", fields[0], f"choosing the {backend!r} generator instead of the server's "
                       f"{generation.backend!r}")
    if max_new_tokens is not None and max_new_tokens > generation.max_new_tokens:
        caller.require("generate", fields[1], f"a token limit above the server's {generation.max_new_tokens}")
    return {"audience": audience, "k": k, "filters": filters_arg(filters), "generator": backend,
            "max_new_tokens": max_new_tokens}


def start_answer(request: Request, question: str, draft: bool, kwargs: dict[str, Any]) -> Job[StreamEvent]:
    """Queue the answer on the answer pool (503 when the queue is full)."""
    runtime = get_runtime(request)
    engine = runtime.require_engine()

    def work(cancel: Any) -> Iterator[StreamEvent]:
        return engine.stream(question, draft=draft, cancel=cancel, **kwargs)

    return runtime.pool.submit(work)


async def first_event(request: Request, job: Job[StreamEvent]) -> StreamEvent | None:
    """Wait for the first event (retrieval runs meanwhile, so a bad request still gets its 4xx status)."""
    async with cancelled_on_disconnect(request, job):
        return await job.first()


class AnswerStream(EventSourceResponse):
    """An SSE response that cancels its job however the response ends (client gone, deadline, done)."""

    def __init__(self, content: AsyncIterator[ServerSentEvent], job: Job[StreamEvent]) -> None:
        super().__init__(content, ping=15, headers={"Cache-Control": "no-cache"})
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.cancel()


@router.post("/ask", summary="Answer a question with checked citations", response_model=AnswerOut,
             responses={200: {"description": _STREAM_DOC, "content": sse_content(list(SSE_EVENTS.items()), _STREAM_DOC)},
                        **errors(*BODY, *READ, *ENGINE)})
async def ask(body: AskRequest, request: Request, caller: ReadAccess) -> Any:
    """Answer ``question`` from the index.

    Returns the answer JSON (text with ``[n]`` markers, citations with spans and links, concepts
    with codes, safety flags, timings, index revision). With ``"stream": true`` or
    ``Accept: text/event-stream`` the answer streams as Server-Sent Events.
    """
    runtime = get_runtime(request)
    question = check_text(body.question, runtime, "question")
    note_text(request, "question", question)
    options = body.generator
    kwargs = answer_kwargs(runtime, caller, body.audience, body.k, body.filters,
                           options.backend if options else None, options.max_new_tokens if options else None)
    streaming = body.stream or "text/event-stream" in request.headers.get("accept", "")
    audience = body.audience or runtime.settings.safety.audience
    job = start_answer(request, question, body.draft and streaming and audience == "clinician", kwargs)
    if not streaming:
        async with cancelled_on_disconnect(request, job):
            async for event in job.events():
                if isinstance(event, AnswerEvent):
                    runtime.metrics.observe_answer(event.answer.timings, event.answer.generator, event.answer.abstained)
                    return answer_json(event.answer)
        raise ApiError(503, "answer: the engine ended without an answer", headers={"Retry-After": "5"})
    first = await first_event(request, job)
    return AnswerStream(_sse(runtime, first, job), job)


def _event(name: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(data=data.model_dump_json() if hasattr(data, "model_dump_json") else data, event=name)


async def _sse(runtime: Runtime, first: StreamEvent | None, job: Job[StreamEvent]) -> AsyncIterator[ServerSentEvent]:
    event: StreamEvent | None = first
    events = job.events()
    try:
        while event is not None:
            if isinstance(event, LeadEvent):
                yield _event("lead", LeadPayload.model_validate({"text": event.text,
                                                                 "flags": [f.to_dict() for f in event.flags]}))
            elif isinstance(event, SentenceEvent):
                citations = answer_json_citations(event)
                yield _event("sentence", SentencePayload.model_validate({"text": event.text, "citations": citations}))
            elif isinstance(event, DraftEvent):
                yield _event("draft", SSE_EVENTS["draft"].model_validate({"text": event.text}))
            elif isinstance(event, AnswerEvent):
                answer = event.answer
                runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
                yield _event("answer", AnswerOut.model_validate(answer_json(answer)))
            event = await anext(events, None)
    except RagmedError as exc:
        status, field = status_for(exc)
        yield _event("error", ErrorBody.model_validate(error_body(status, str(exc), field)))
    finally:
        job.cancel()
    yield _event("done", "{}")


def answer_json_citations(event: SentenceEvent) -> list[dict[str, Any]]:
    """The citations a sentence event introduces, in the answer's citation form (with document paths)."""
    return [citation_json(c) for c in event.citations]


@router.post("/search", summary="Retrieve passages", response_model=SearchOut,
             responses=errors(*BODY, *READ, 503))
async def search(body: SearchRequest, request: Request, _: ReadAccess) -> Any:
    """Return the top passages for ``query`` with scores and provenance (and the shards a partial search left out)."""
    runtime = get_runtime(request)
    query = check_text(body.query, runtime, "query")
    note_text(request, "query_text", query)
    engine = runtime.require_engine()
    started = time.perf_counter()

    def find() -> tuple[list[Passage], list[SkippedShard]]:
        with engine.skipped_shards() as skipped:
            return engine.search(query, k=body.k, mode=body.mode, filters=filters_arg(body.filters)), skipped

    passages, skipped = await run_blocking(find)
    elapsed = time.perf_counter() - started
    runtime.metrics.stage.labels("search").observe(elapsed)
    return {
        "query": query,
        "count": len(passages),
        "passages": [passage_json(p) for p in passages],
        "index_revision": engine.revision,
        "timings": {"search_s": round(elapsed, 4)},
        "skipped_shards": [shard.to_dict() for shard in skipped],
    }
