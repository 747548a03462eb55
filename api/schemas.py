"""Request bodies of the HTTP API (pydantic models; unknown fields are refused and named)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

Backend = Literal["extractive", "llamacpp", "transformers", "openai"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(_Strict):
    """Metadata filters applied to retrieval."""

    sources: list[StrictStr] | None = Field(None, description="Keep passages from these sources (e.g. pubmed, medquad).")
    year_min: int | None = Field(None, ge=0, le=3000, description="Earliest publication year.")
    year_max: int | None = Field(None, ge=0, le=3000, description="Latest publication year.")
    doc_types: list[StrictStr] | None = Field(None, description="Keep these document types.")
    languages: list[StrictStr] | None = Field(None, description="Keep these languages (ISO 639-1).")

    @model_validator(mode="after")
    def _years_in_order(self) -> FiltersIn:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min ({self.year_min}) is greater than year_max ({self.year_max})")
        return self


class GeneratorOptions(_Strict):
    """Per-request generator options."""

    backend: Backend | None = Field(None, description="Generator backend; the configured one when unset.")
    max_new_tokens: int | None = Field(None, gt=0, le=4096, description="Tokens generated at most.")


class AskRequest(_Strict):
    """Body of ``POST /v1/ask``."""

    question: StrictStr = Field(..., description="The question, in plain text.", examples=["What is the first-line treatment of type 2 diabetes?"])
    audience: Literal["clinician", "public"] | None = Field(None, description="Who the answer is for; the configured default when unset.")
    k: int | None = Field(None, ge=1, le=50, description="Passages given to the answerer.")
    filters: FiltersIn | None = Field(None, description="Metadata filters.")
    generator: GeneratorOptions | None = Field(None, description="Generator options.")
    stream: bool = Field(False, description="Stream Server-Sent Events (also chosen by 'Accept: text/event-stream').")
    draft: bool = Field(False, description="Clinician audience only: also stream the model's unchecked draft as "
                        "'draft' events (never part of the answer).")


class SearchRequest(_Strict):
    """Body of ``POST /v1/search``."""

    query: StrictStr = Field(..., description="Search text.", examples=["heart attack symptoms"])
    k: int | None = Field(None, ge=1, le=100, description="Passages returned.")
    mode: Literal["dense", "bm25", "hybrid"] | None = Field(None, description="Retrieval mode; the configured one when unset.")
    filters: FiltersIn | None = Field(None, description="Metadata filters.")


class DocumentIn(_Strict):
    """One document given to ``POST /v1/documents`` as JSON (the fields of ``ragmed.types.Document``)."""

    id: StrictStr = Field(..., min_length=1, max_length=512, description="Stable id, e.g. 'pmid:12345'; an existing id is updated.")
    text: StrictStr = Field(..., min_length=1, description="Body text.")
    title: StrictStr = Field("", description="Title.")
    source: StrictStr = Field("api", min_length=1, description="Source collection name.")
    url: StrictStr | None = Field(None, description="Link to the original.")
    licence: StrictStr | None = Field(None, description="Licence of the text.")
    date: StrictStr | None = Field(None, description="Publication date, ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD).")
    doc_type: StrictStr | None = Field(None, description="Document type (abstract, guideline, consumer...).")
    language: StrictStr = Field("en", description="Language (ISO 639-1).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata.")


class ChatMessage(BaseModel):
    """One OpenAI chat message; content is text or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """Body of ``POST /v1/chat/completions`` (OpenAI fields; unknown OpenAI options are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field("ragmed", description="Model name; ragmed answers whatever is named.")
    messages: list[ChatMessage] = Field(..., min_length=1, description="Conversation; the last user message is answered.")
    stream: bool = Field(False, description="Stream chunks as Server-Sent Events.")
    max_tokens: int | None = Field(None, gt=0, le=4096, description="Tokens generated at most.")
    max_completion_tokens: int | None = Field(None, gt=0, le=4096, description="Same as max_tokens (newer name).")
    audience: Literal["clinician", "public"] | None = Field(None, description="ragmed extension: audience.")
    k: int | None = Field(None, ge=1, le=50, description="ragmed extension: passages given to the answerer.")
    filters: FiltersIn | None = Field(None, description="ragmed extension: metadata filters.")
