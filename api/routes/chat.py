"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

The last user message is answered with ragmed. The reply text carries ``[n]`` markers and a
"Sources" list; the same citations come structured in ``citations`` on the response and on the
message (in the last chunk when streaming). Streaming sends emergency guidance first, then each answer
sentence once it has passed the citation check; nothing unchecked is ever sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api import sse
from api.deps import ReadAccess
from api.errors import ApiError, error_body, status_for
from api.redact import redact
from api.routes.ask import answer_kwargs, check_text
from api.runtime import Runtime, get_runtime, iterate_blocking, run_blocking
from api.schemas import ChatRequest
from api.serialize import answer_json, document_path, references
from ragmed.errors import RagmedError
from ragmed.text import approx_tokens
from ragmed.types import Answer, AnswerEvent, LeadEvent, SentenceEvent, StreamEvent

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL = "ragmed"


def last_user_message(body: ChatRequest, runtime: Runtime) -> str:
    """The text of the last user message, checked for emptiness and length.

    Raises:
        ApiError: 422 naming ``messages`` or the content field at fault.
    """
    for i in range(len(body.messages) - 1, -1, -1):
        message = body.messages[i]
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
        return check_text(content or "", runtime, f"messages[{i}].content")
    raise ApiError(422, "messages: no message with role 'user' to answer", "messages")


def citations_json(answer: Answer) -> list[dict[str, Any]]:
    """Citations in the structured form attached to chat replies."""
    return [
        {"n": c.n, "doc_id": c.doc_id, "title": c.title, "source": c.source, "url": c.url,
         "link": c.url or document_path(c.doc_id), "document": document_path(c.doc_id),
         "sentence": c.sentence, "start": c.start, "end": c.end}
        for c in answer.citations
    ]


def reply_text(answer: Answer) -> str:
    """The answer text followed by its reference list."""
    refs = references(answer)
    return f"{answer.text}\n\nSources:\n{refs}" if refs else answer.text


@router.get("/models", summary="Models (OpenAI-compatible)")
async def models(_: ReadAccess) -> dict[str, Any]:
    """List the one model this service answers as: ``ragmed``."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "ragmed"}]}


@router.post("/chat/completions", summary="Chat completions (OpenAI-compatible)")
async def chat_completions(body: ChatRequest, request: Request, _: ReadAccess) -> Any:
    """Answer the last user message with cited evidence, in the OpenAI chat-completions format.

    Extensions accepted in the body: ``audience``, ``k`` and ``filters`` as in ``/v1/ask``.
    """
    runtime = get_runtime(request)
    question = last_user_message(body, runtime)
    request.state.question = redact(question)
    engine = runtime.require_engine()
    kwargs = answer_kwargs(runtime, body.audience, body.k, body.filters,
                           max_new_tokens=body.max_completion_tokens or body.max_tokens, limit_field=None)
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    if not body.stream:
        answer = await run_blocking(engine.ask, question, **kwargs)
        runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
        citations = citations_json(answer)
        text = reply_text(answer)
        prompt_tokens = sum(approx_tokens(str(m.content or "")) for m in body.messages)
        completion_tokens = approx_tokens(text)
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text, "citations": citations}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
            "citations": citations,
            "ragmed": answer_json(answer),
        }
    events = iterate_blocking(engine.stream(question, **kwargs))
    first = await anext(events, None)
    return StreamingResponse(_chunks(runtime, completion_id, created, first, events),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


def _tail(streamed: str, final: str) -> str:
    """What to send after the streamed tokens so the reply ends with the checked answer."""
    sent, final = streamed.strip(), final.strip()
    if sent == final:
        return ""
    if sent and final.startswith(sent):
        return final[len(sent):]
    return f"\n\nChecked answer: {final}"


def _chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> bytes:
    return sse.data({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


async def _chunks(runtime: Runtime, completion_id: str, created: int, first: StreamEvent | None,
                  events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    streamed: list[str] = []
    event: StreamEvent | None = first
    try:
        while event is not None:
            if isinstance(event, (LeadEvent, SentenceEvent)) and event.text:
                text = event.text + ("\n\n" if isinstance(event, LeadEvent) else " ")
                streamed.append(text)
                yield _chunk(completion_id, created, {"content": text})
            elif isinstance(event, AnswerEvent):
                answer: Answer = event.answer
                runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
                tail = _tail("".join(streamed), answer.text)
                refs = references(answer)
                if refs:
                    tail += f"\n\nSources:\n{refs}"
                citations = citations_json(answer)
                yield _chunk(completion_id, created, {"content": tail, "citations": citations}, "stop",
                             citations=citations)
            event = await anext(events, None)
    except RagmedError as exc:
        status, field = status_for(exc)
        yield sse.data(error_body(status, str(exc), field))
    yield sse.data("[DONE]")
