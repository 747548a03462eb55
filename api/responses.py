"""Response bodies of the HTTP API, and the payloads of its Server-Sent Events (pydantic models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """The OpenAI-style error object."""

    message: str = Field(description="What went wrong, naming the field and value.")
    type: str = Field(description="Error kind, e.g. invalid_request_error, rate_limit_error.")
    param: str | None = Field(description="The request field at fault (question, filters.year_min, Authorization...).")
    code: int = Field(description="The HTTP status.")


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where: question, filters.year_min, documents[1].text...")
    message: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    """Every error response: ``detail`` for plain HTTP clients, ``error`` for OpenAI SDKs, ``errors`` per field."""

    detail: str = Field(description="The message (the same as error.message).")
    error: ErrorDetail
    errors: list[FieldError] | None = Field(None, description="One entry per invalid field (422 responses).")


class CitationOut(BaseModel):
    n: int = Field(description="The number used in the answer's [n] markers.")
    doc_id: str
    chunk_id: int
    title: str
    sentence: str = Field(description="The exact supporting sentence: document text[start:end].")
    start: int
    end: int
    url: str | None = None
    source: str = ""
    licence: str | None = None
    score: float = 0.0
    curie: str | None = None
    document: str = Field(description="API path of the cited document.")
    link: str = Field(description="The source URL, or the document path when the source has none.")


class ConceptOut(BaseModel):
    curie: str
    label: str
    codes: dict[str, list[str]] = Field(default_factory=dict, description="Codes by system (ICD10CM, MESH, UMLS...).")
    synonyms: list[str] = Field(default_factory=list)
    definition: str | None = None
    source: str = ""
    version: str | None = None
    mention: str | None = None
    start: int | None = None
    end: int | None = None


class FlagOut(BaseModel):
    kind: Literal["emergency", "declined", "disclaimer", "injection"]
    message: str
    rule: str = Field("", description="What was found: the emergency category, dosing or diagnosis, passage:N.")
    source: str = Field("", description="The public page the guidance comes from (MedlinePlus, CDC, NHS).")
    url: str | None = None


class SentenceOut(BaseModel):
    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = True
    score: float = 0.0


class PassageOut(BaseModel):
    chunk_id: int
    doc_id: str
    text: str
    score: float
    start: int
    end: int
    title: str = ""
    source: str = ""
    url: str | None = None
    licence: str | None = None
    date: str | None = None
    section: str | None = None
    doc_type: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    document: str = Field(description="API path of the passage's document.")


class SkippedShardOut(BaseModel):
    """An index shard left out of the search (the server runs a shard set with index.allow_partial)."""

    name: str = Field(description="The shard's index name (its folder's name).")
    path: str = Field(description="The shard's folder.")
    reason: str = Field(description="Why it was left out: the error naming the shard and what is wrong with it.")


_SKIPPED = ("Shards of the server's shard set left out of this search, which the other shards answered; empty "
            "when every shard served.")


class AnswerOut(BaseModel):
    """A checked, cited answer."""

    question: str
    text: str = Field(description="The answer with [n] citation markers.")
    citations: list[CitationOut]
    sentences: list[SentenceOut]
    passages: list[PassageOut]
    concepts: list[ConceptOut]
    flags: list[FlagOut]
    abstained: bool
    audience: Literal["clinician", "public"]
    generator: str
    fallback_reason: str | None
    timings: dict[str, float]
    index_revision: int | None
    choice: str | None = None
    skipped_shards: list[SkippedShardOut] = Field(default_factory=list, description=_SKIPPED)
    emergency: bool = Field(description="Whether emergency guidance leads the answer.")


class SearchOut(BaseModel):
    query: str
    count: int
    passages: list[PassageOut]
    index_revision: int
    timings: dict[str, float]
    skipped_shards: list[SkippedShardOut] = Field(default_factory=list, description=_SKIPPED)


class DocumentOut(BaseModel):
    id: str
    source: str
    title: str
    text: str
    url: str | None = None
    licence: str | None = None
    date: str | None = None
    doc_type: str | None = None
    language: str = "en"
    sections: list[list[str | int]] = Field(default_factory=list, description="[name, start, end] of each section in text.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    year: int | None = None


class FlaggedOut(BaseModel):
    doc_id: str
    field: str = Field(description="text or title.")
    start: int
    end: int
    score: float


class IngestOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    deleted: int
    skipped: int
    chunks_embedded: int
    chunks_cached: int
    errors: list[str] = Field(description="One 'where: why' line per skipped record.")
    flagged: list[FlaggedOut] = Field(default_factory=list, description="Text of the added documents that reads "
                                      "like an instruction to the model or the reader; it is never quoted, cited, "
                                      "shown as a title or prompted.")
    index_revision: int


class DeletedOut(BaseModel):
    deleted: int
    id: str
    index_revision: int


class ConceptsOut(BaseModel):
    q: str
    count: int
    concepts: list[ConceptOut]


class AttributionItem(BaseModel):
    name: str
    licence: str
    attribution: str


class AttributionOut(BaseModel):
    attribution: list[AttributionItem]
    source: Literal["index", "fallback"]


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    ready: bool
    index: str | None = None
    revision: int | None = None
    reason: str | None = None


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


# --- Server-Sent Events of /v1/ask -------------------------------------------------------------------
class LeadPayload(BaseModel):
    """``event: lead``: emergency guidance or a declined request, sent before anything else."""

    text: str
    flags: list[FlagOut]


class SentencePayload(BaseModel):
    """``event: sentence``: one answer sentence that passed the citation check, with the citations it uses."""

    text: str
    citations: list[CitationOut]


class DraftPayload(BaseModel):
    """``event: draft``: unchecked model text, only for clinicians who asked for it; never part of the answer."""

    text: str
    checked: Literal[False] = False


class DonePayload(BaseModel):
    """``event: done``: the stream ends."""


SSE_EVENTS: dict[str, type[BaseModel]] = {
    "lead": LeadPayload, "sentence": SentencePayload, "draft": DraftPayload, "answer": AnswerOut,
    "error": ErrorBody, "done": DonePayload,
}
"""Each event name of the /v1/ask stream and the model of its JSON data."""


class InfoOut(BaseModel):
    """Index and model information (index fields the store adds later are passed through)."""

    model_config = ConfigDict(extra="allow")

    name: str
    revision: int
    embedding_model: str
    dimension: int
    factory: str
    counts: dict[str, Any]
    generator: str
    concepts: int
    attribution: list[AttributionItem]


# --- OpenAI-compatible chat completions -----------------------------------------------------------
class ChatCitation(BaseModel):
    n: int
    doc_id: str
    title: str
    source: str
    url: str | None
    link: str
    document: str
    sentence: str
    start: int
    end: int


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    citations: list[ChatCitation]


class ChatChoice(BaseModel):
    index: int
    finish_reason: Literal["stop"]
    message: ChatMessageOut


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[ChatCitation]
    ragmed: AnswerOut = Field(description="The full answer (passages, concepts, flags, timings).")


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    citations: list[ChatCitation] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None


class ChatChunk(BaseModel):
    """One ``data:`` event of a streamed chat completion (the stream ends with ``data: [DONE]``)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[ChatCitation] | None = None
