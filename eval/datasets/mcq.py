"""MedQA-USMLE and MedMCQA JSONL with their native field names."""

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

_MEDMCQA_OPTIONS = ("opa", "opb", "opc", "opd")


class MedQAAdapter:
    """Reads MedQA JSONL: ``{question, options: {A: ..}, answer_idx: "A", answer, meta_info}``.

    The item id is the record's ``id`` when present, else its line number.
    """

    name = "medqa"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good line.

        Raises:
            IngestError: the file cannot be opened.
        """
        return read_records(iter_jsonl(path, on_error), _parse_medqa, on_error)


def _parse_medqa(location: str, record: dict[str, Any]) -> EvalItem:
    options = options_field(record.get("options"), location)
    raw = text_field(record, "answer_idx", location, required=False) or text_field(record, "answer", location) or ""
    answer = letter_for(options, raw)
    if answer is None:
        raise IngestError(f"answer {raw!r} is not one of the options {sorted(options)}", location=location)
    return EvalItem(
        id=str(record.get("id") or location.rsplit(":", 1)[-1]),
        question=text_field(record, "question", location) or "",
        options=options,
        answer=answer,
        dataset="medqa",
    )


class MedMCQAAdapter:
    """Reads MedMCQA JSONL: ``{id, question, opa, opb, opc, opd, cop, exp, subject_name}``.

    ``cop`` is the correct option counted from 1 (the original release); a file in which some
    ``cop`` is 0 is read as counted from 0 (the Hugging Face export). ``exp`` becomes the long answer.
    """

    name = "medmcqa"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good line.

        Raises:
            IngestError: the file cannot be opened.
        """
        records = list(iter_jsonl(path, on_error))
        zero_based = any(record.get("cop") in (0, "0") for _, record in records)
        return read_records(iter(records), lambda loc, rec: _parse_medmcqa(loc, rec, zero_based), on_error)


def _parse_medmcqa(location: str, record: dict[str, Any], zero_based: bool) -> EvalItem:
    options = options_field([record.get(name) for name in _MEDMCQA_OPTIONS], location)
    cop = record.get("cop")
    try:
        index = int(str(cop)) - (0 if zero_based else 1)
    except ValueError:
        index = -1
    if not 0 <= index < len(options):
        raise IngestError(f"cop must be an option number, got {cop!r}", location=location)
    return EvalItem(
        id=str(record.get("id") or location.rsplit(":", 1)[-1]),
        question=text_field(record, "question", location) or "",
        options=options,
        answer="ABCD"[index],
        long_answer=text_field(record, "exp", location, required=False) if isinstance(record.get("exp"), str) else None,
        dataset="medmcqa",
    )
