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
from sse_starlette import ServerSentEvent

from api.deps import ReadAccess
from api.errors import ApiError, error_body, status_for
from api.middleware import note_text
from api.openapi import BODY, ENGINE, READ, errors, sse_content
from api.responses import ChatChunk, ChatCompletionOut, ErrorBody, ModelsOut
from api.routes.ask import AnswerStream, answer_kwargs, check_text, first_event, start_answer
from api.runtime import Runtime, get_runtime
from api.schemas import ChatRequest
from api.serialize import answer_json, document_path, references
from api.work import Job, cancelled_on_disconnect
from ragmed.errors import RagmedError
from ragmed.text import approx_tokens
from ragmed.types import Answer, AnswerEvent, LeadEvent, SentenceEvent, StreamEvent

router = APIRouter(prefix="/v1", tags=["openai"])
MODEL = "ragmed"
_CHUNKS = ("Chunks as Server-Sent Events (`data: {chat.completion.chunk}`), emergency guidance first, then each "
           "checked sentence, then the checked answer's tail with its citations; `data: [DONE]` ends the stream.")


def last_user_message(body: ChatRequest, runtime: Runtime) -> str:
    """The text of the last user message, checked for length.

    Raises:
        ApiError: 422 naming ``messages`` or the content field at fault.
    """
    for i in range(len(body.messages) - 1, -1, -1):
        message = body.messages[i]
        if message.role == "user":
            return check_text(message.text(), runtime, f"messages[{i}].content")
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


@router.get("/models", summary="Models (OpenAI-compatible)", response_model=ModelsOut, responses=errors(*READ))
async def models(_: ReadAccess) -> Any:
    """List the one model this service answers as: ``ragmed``."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "ragmed"}]}


@router.post("/chat/completions", summary="Chat completions (OpenAI-compatible)", response_model=ChatCompletionOut,
             responses={200: {"description": "The completion, or its chunks as Server-Sent Events.",
                              "content": sse_content({"message": ChatChunk, "done": None}, _CHUNKS)},
                        **errors(*BODY, *READ, *ENGINE)})
async def chat_completions(body: ChatRequest, request: Request, caller: ReadAccess) -> Any:
    """Answer the last user message with cited evidence, in the OpenAI chat-completions format.

    Extensions accepted in the body: ``audience``, ``k`` and ``filters`` as in ``/v1/ask``.
    """
    runtime = get_runtime(request)
    question = last_user_message(body, runtime)
    note_text(request, "question", question)
    field = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    kwargs = answer_kwargs(runtime, caller, body.audience, body.k, body.filters,
                           max_new_tokens=body.max_completion_tokens or body.max_tokens, fields=("model", field))
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    job = start_answer(request, question, False, kwargs)
    if not body.stream:
        async with cancelled_on_disconnect(request, job):
            async for event in job.events():
                if isinstance(event, AnswerEvent):
                    return _completion(runtime, body, event.answer, completion_id, created)
        raise ApiError(503, "answer: the engine ended without an answer", headers={"Retry-After": "5"})
    first = await first_event(request, job)
    return AnswerStream(_chunks(runtime, completion_id, created, first, job), job)


def _completion(runtime: Runtime, body: ChatRequest, answer: Answer, completion_id: str, created: int) -> dict[str, Any]:
    runtime.metrics.observe_answer(answer.timings, answer.generator, answer.abstained)
    citations = citations_json(answer)
    text = reply_text(answer)
    prompt_tokens = sum(approx_tokens(m.text()) for m in body.messages)
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


def _tail(streamed: str, final: str) -> str:
    """What to send after the streamed sentences so the reply ends with the checked answer."""
    sent, final = streamed.strip(), final.strip()
    if sent == final:
        return ""
    if sent and final.startswith(sent):
        return final[len(sent):]
    return f"\n\nChecked answer: {final}"


def _chunk(completion_id: str, created: int, delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> ServerSentEvent:
    chunk = ChatChunk.model_validate({"id": completion_id, "created": created, "model": MODEL,
                                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
    return ServerSentEvent(data=chunk.model_dump_json(exclude_none=True))


async def _chunks(runtime: Runtime, completion_id: str, created: int, first: StreamEvent | None,
                  job: Job[StreamEvent]) -> AsyncIterator[ServerSentEvent]:
    yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
    streamed: list[str] = []
    event: StreamEvent | None = first
    events = job.events()
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
        yield ServerSentEvent(data=ErrorBody.model_validate(error_body(status, str(exc), field)).model_dump_json())
    finally:
        job.cancel()
    yield ServerSentEvent(data="[DONE]")
