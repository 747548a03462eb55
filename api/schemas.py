"""Request bodies of the HTTP API (pydantic models in strict mode).

Unknown fields are refused and named; booleans and numbers must be JSON booleans and numbers (``"stream": 0``
is refused); text fields refuse invalid Unicode (a lone surrogate) and, where empty makes no sense, text
that is blank (only spaces, control or invisible format characters such as a zero-width space). The
OpenAPI schema says the same: ``minLength`` and a ``pattern`` that needs one visible character.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ragmed.text import is_blank

Backend = Literal["extractive", "llamacpp", "transformers", "openai"]


def _blank_class() -> str:
    """A regular-expression class of every character ``is_blank`` ignores, as \\u escapes and ranges."""
    blank = [c for c in range(sys.maxunicode + 1)
             if not 0xD800 <= c <= 0xDFFF and (chr(c).isspace() or unicodedata.category(chr(c)) in ("Cc", "Cf"))]
    ranges: list[tuple[int, int]] = []
    for c in blank:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))

    def esc(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else chr(c)

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


VISIBLE = f"[^{_blank_class()}]"
"""JSON-schema ``pattern`` of a text with at least one visible character."""


def _valid_unicode(text: str) -> str:
    for i, ch in enumerate(text):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"contains an invalid character U+{ord(ch):04X} (a lone surrogate) at position {i}")
    return text


def _not_blank(text: str) -> str:
    if is_blank(text):
        raise ValueError("must not be empty or blank (only spaces or invisible characters)")
    return text


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_whole)]
"""A JSON integer (18.0 counts, as JSON Schema says; "18" and true do not)."""
Text = Annotated[str, AfterValidator(_valid_unicode)]
"""Any valid Unicode text."""
Visible = Annotated[Text, AfterValidator(_not_blank), Field(min_length=1, json_schema_extra={"pattern": VISIBLE})]
"""Text with at least one visible character."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FiltersIn(_Strict):
    """Metadata filters applied to retrieval (a year range whose minimum passes its maximum selects nothing)."""

    sources: list[Text] | None = Field(None, description="Keep passages from these sources (e.g. pubmed, medquad).")
    year_min: Annotated[int, Field(ge=0, le=3000), BeforeValidator(_whole)] | None = Field(None, description="Earliest publication year.")
    year_max: Annotated[int, Field(ge=0, le=3000), BeforeValidator(_whole)] | None = Field(None, description="Latest publication year.")
    doc_types: list[Text] | None = Field(None, description="Keep these document types.")
    languages: list[Text] | None = Field(None, description="Keep these languages (ISO 639-1).")


class GeneratorOptions(_Strict):
    """Per-request generator options; another backend than the server's, or a limit above its default,
    needs an API key with the ``generate`` permission."""

    backend: Backend | None = Field(None, description="Generator backend; the configured one when unset.")
    max_new_tokens: Annotated[int, Field(gt=0, le=4096), BeforeValidator(_whole)] | None = Field(None, description="Tokens generated at most.")


class AskRequest(_Strict):
    """Body of ``POST /v1/ask``."""

    question: Visible = Field(..., description="The question, in plain text.",
                              examples=["What is the first-line treatment of type 2 diabetes?"])
    audience: Literal["clinician", "public"] | None = Field(None, description="Who the answer is for; the configured default when unset.")
    k: Annotated[int, Field(ge=1, le=50), BeforeValidator(_whole)] | None = Field(None, description="Passages given to the answerer.")
    filters: FiltersIn | None = Field(None, description="Metadata filters.")
    generator: GeneratorOptions | None = Field(None, description="Generator options.")
    stream: bool = Field(False, description="Stream Server-Sent Events (also chosen by 'Accept: text/event-stream').")
    draft: bool = Field(False, description="Also stream the model's unchecked draft as 'draft' events, labelled "
                        "unchecked and never part of the answer; only in a stream for the clinician audience "
                        "(ignored otherwise).")


class SearchRequest(_Strict):
    """Body of ``POST /v1/search``."""

    query: Visible = Field(..., description="Search text.", examples=["heart attack symptoms"])
    k: Annotated[int, Field(ge=1, le=100), BeforeValidator(_whole)] | None = Field(None, description="Passages returned.")
    mode: Literal["dense", "bm25", "hybrid"] | None = Field(None, description="Retrieval mode; the configured one when unset.")
    filters: FiltersIn | None = Field(None, description="Metadata filters.")


class DocumentIn(_Strict):
    """One document given to ``POST /v1/documents`` as JSON (the fields of ``ragmed.types.Document``)."""

    id: Annotated[Visible, Field(max_length=512)] = Field(..., description="Stable id, e.g. 'pmid:12345'; an existing id is updated.")
    text: Visible = Field(..., description="Body text.")
    title: Text = Field("", description="Title.")
    source: Visible = Field("api", description="Source collection name.")
    url: Text | None = Field(None, description="Link to the original.")
    licence: Text | None = Field(None, description="Licence of the text.")
    date: Annotated[str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] | None = Field(
        None, description="Publication date, ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD).")
    doc_type: Text | None = Field(None, description="Document type (abstract, guideline, consumer...).")
    language: Text = Field("en", description="Language (ISO 639-1).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata.")


class ContentPart(BaseModel):
    """One part of a message's content; text parts are read, other kinds (images...) are ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Text
    text: Text | None = None


_USER_HAS_TEXT: dict[str, Any] = {
    "if": {"properties": {"role": {"const": "user"}}, "required": ["role"]},
    "then": {"required": ["content"], "properties": {"content": {"anyOf": [
        {"type": "string", "minLength": 1, "pattern": VISIBLE},
        {"type": "array", "contains": {"type": "object", "required": ["type", "text"], "properties": {
            "type": {"const": "text"}, "text": {"type": "string", "minLength": 1, "pattern": VISIBLE}}}},
    ]}}},
}


class ChatMessage(BaseModel):
    """One OpenAI chat message; a user message must carry text (a string or a text part)."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra=_USER_HAS_TEXT)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined by spaces)."""
        if isinstance(self.content, list):
            return " ".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""

    @model_validator(mode="after")
    def _user_has_text(self) -> ChatMessage:
        if self.role == "user" and is_blank(self.text()):
            raise ValueError("content: a user message must carry text (a string or a part of type 'text')")
        return self


class ChatRequest(BaseModel):
    """Body of ``POST /v1/chat/completions`` (OpenAI fields; unknown OpenAI options are accepted and ignored)."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: Text = Field("ragmed", description="Model name; ragmed answers whatever is named.")
    messages: list[ChatMessage] = Field(..., min_length=1, description="Conversation; the last user message is answered.",
                                        json_schema_extra={"contains": {"type": "object", "required": ["role"],
                                                                        "properties": {"role": {"const": "user"}}}})
    stream: bool = Field(False, description="Stream chunks as Server-Sent Events.")
    max_tokens: Annotated[int, Field(gt=0, le=4096), BeforeValidator(_whole)] | None = Field(None, description="Tokens generated at most.")
    max_completion_tokens: Annotated[int, Field(gt=0, le=4096), BeforeValidator(_whole)] | None = Field(None, description="Same as max_tokens (newer name).")
    audience: Literal["clinician", "public"] | None = Field(None, description="ragmed extension: audience.")
    k: Annotated[int, Field(ge=1, le=50), BeforeValidator(_whole)] | None = Field(None, description="ragmed extension: passages given to the answerer.")
    filters: FiltersIn | None = Field(None, description="ragmed extension: metadata filters.")

    @field_validator("messages")
    @classmethod
    def _has_user_message(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" for m in messages):
            raise ValueError("no message with role 'user' to answer")
        return messages
