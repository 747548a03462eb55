"""Shared parts of the dataset adapters: the adapter interface and record validation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from eval.items import EvalItem
from ragmed.errors import IngestError
from ragmed.types import RecordError

OnError = Callable[[RecordError], None]


class Adapter(Protocol):
    """Reads one benchmark format.

    ``read`` yields every good record of ``path`` as an ``EvalItem``; a bad record is reported
    through ``on_error`` (naming the file and the record) and skipped. A file that cannot be read
    at all raises ``IngestError`` naming the file.
    """

    name: str

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        ...


def load_json(path: Path) -> Any:
    """Parse a whole JSON file.

    Raises:
        IngestError: the file cannot be read or is not JSON (names the file and the position).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IngestError(f"cannot read: {exc}", location=str(path)) from exc
    except ValueError as exc:
        raise IngestError(f"not valid JSON: {exc}", location=str(path)) from exc


def text_field(record: dict[str, Any], name: str, location: str, *, required: bool = True) -> str | None:
    """The stripped non-empty string ``record[name]``.

    Raises:
        IngestError: the field is required but missing or empty, or is not a string.
    """
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise IngestError(f"missing or empty field {name!r}", location=location)
        return None
    if not isinstance(value, str):
        raise IngestError(f"field {name!r} must be a string, got {type(value).__name__} {value!r:.60}", location=location)
    return value.strip()


def options_field(value: Any, location: str) -> dict[str, str]:
    """Normalise options given as ``{letter: text}`` or as a list of texts to ``{letter: text}``.

    Raises:
        IngestError: the options are empty or not strings.
    """
    from eval.items import letters

    if isinstance(value, list):
        if not 1 <= len(value) <= 26:
            raise IngestError(f"options list must hold 1 to 26 texts, got {len(value)}", location=location)
        value = dict(zip(letters(len(value)), value))
    if not isinstance(value, dict) or not value:
        raise IngestError(f"options must be a non-empty object or list, got {value!r:.80}", location=location)
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str) or not text.strip():
            raise IngestError(f"option {key!r} must be a non-empty string, got {text!r:.60}", location=location)
        out[str(key).strip()] = text.strip()
    return out


def read_records(
    records: Iterator[tuple[str, Any]], parse: Callable[[str, Any], EvalItem], on_error: OnError
) -> Iterator[EvalItem]:
    """Apply ``parse(location, record)`` to each record, reporting ``IngestError`` through ``on_error``."""
    for location, record in records:
        try:
            yield parse(location, record)
        except IngestError as exc:
            on_error(RecordError(exc.location or location, str(exc).removeprefix(f"{exc.location}: ")))
