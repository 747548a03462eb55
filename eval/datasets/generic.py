"""A generic JSONL benchmark: one question per line, everything but the question optional."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.datasets.base import (
    OnError,
    options_field,
    read_records,
    text_field,
)
from eval.items import EvalItem, letter_for
from ragmed.errors import IngestError
from ragmed.jsonl import iter_jsonl


class GenericAdapter:
    """Reads lines like ``{"id", "question", "options", "answer", "gold_doc_ids", "context",
    "long_answer", "dataset"}``.

    ``options`` is an object ``{letter: text}`` or a list of texts (lettered A, B, ...); with
    options, ``answer`` is a letter or the text of an option; without, ``answer`` is a reference
    text (the long answer). ``gold_doc_ids`` (also ``gold_ids``) lists document ids; ``context`` is a
    string or a list of strings. A missing ``id`` becomes the line number.
    """

    name = "jsonl"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good line.

        Raises:
            IngestError: the file cannot be opened.
        """
        return read_records(iter_jsonl(path, on_error), lambda loc, rec: _parse(loc, rec, path.stem), on_error)


def _parse(location: str, record: dict[str, Any], default_dataset: str) -> EvalItem:
    question = text_field(record, "question", location) or ""
    options = options_field(record["options"], location) if record.get("options") is not None else None
    raw_answer = record.get("answer")
    if raw_answer is not None and not isinstance(raw_answer, str):
        raw_answer = str(raw_answer)
    answer = long_answer = None
    if options:
        if raw_answer is not None:
            answer = letter_for(options, raw_answer)
            if answer is None:
                raise IngestError(f"answer {raw_answer!r} is not one of the options {sorted(options)}", location=location)
        long_answer = text_field(record, "long_answer", location, required=False)
    else:
        long_answer = text_field(record, "long_answer", location, required=False) or (raw_answer or "").strip() or None
    return EvalItem(
        id=str(record.get("id") or location.rsplit(":", 1)[-1]),
        question=question,
        options=options,
        answer=answer,
        gold_doc_ids=_strings(record.get("gold_doc_ids", record.get("gold_ids")), "gold_doc_ids", location) or [],
        context=_strings(record.get("context"), "context", location),
        long_answer=long_answer,
        dataset=str(record.get("dataset") or default_dataset),
    )


def _strings(value: Any, name: str, location: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise IngestError(f"{name} must be a string or a list of strings, got {value!r:.60}", location=location)
    return [str(v) for v in value]
