"""JSONL and CSV/TSV documents in ragmed's documented schema (see docs/formats.md).

Required: ``id`` and ``text``. Optional: ``title``, ``source``, ``url``, ``licence`` (or
``license``), ``date`` (ISO, at least the year), ``doc_type``, ``language``, ``sections``
(JSONL only: ``[[label, start, end], ...]``) and ``metadata`` (JSONL only: an object). Every
other field or column goes into ``metadata``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError
from ragmed.sources.base import OnError
from ragmed.sources.files import GZIP_ERRORS, base_suffix, open_binary
from ragmed.types import Document, RecordError

FIELDS = ("id", "text", "title", "source", "url", "licence", "date", "doc_type", "language")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?([T ][0-9:.+\-Z]*)?$")
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


class RowError(ValueError):
    """A row that breaks the schema; the message names the field and the value."""


def row_document(row: dict[str, Any], default_source: str) -> Document:
    """Turn one schema row into a ``Document``.

    Args:
        row: field name -> value (JSON values, or CSV strings with empty cells left out).
        default_source: ``source`` when the row has none (the file name's stem).

    Returns:
        The document.

    Raises:
        RowError: a required field is missing or a field has an unusable value.
    """
    row = dict(row)
    if "license" in row and "licence" not in row:
        row["licence"] = row.pop("license")
    identifier = row.pop("id", None)
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)) or not str(identifier).strip():
        raise RowError(f"missing or empty 'id' (got {identifier!r})")
    text = row.pop("text", None)
    if not isinstance(text, str) or not text.strip():
        raise RowError(f"missing or empty 'text' for id {identifier!r} (got {_short(text)})")
    values: dict[str, Any] = {}
    for name in FIELDS[2:]:
        value = row.pop(name, None)
        if value is not None and not isinstance(value, str):
            raise RowError(f"field {name!r} must be a string, got {_short(value)}")
        values[name] = value.strip() if value else None
    if values["date"] and not _DATE.match(values["date"]):
        raise RowError(f"field 'date' must be an ISO date such as 2019 or 2019-05-31, got {values['date']!r}")
    metadata = row.pop("metadata", None) or {}
    if not isinstance(metadata, dict):
        raise RowError(f"field 'metadata' must be an object, got {_short(metadata)}")
    sections = _sections(row.pop("sections", None) or [], len(text))
    return Document(
        id=str(identifier).strip(), source=values["source"] or default_source, title=values["title"] or "",
        text=text, url=values["url"], licence=values["licence"], date=values["date"],
        doc_type=values["doc_type"], language=values["language"] or "en", sections=sections,
        metadata={**metadata, **row},
    )


def _sections(raw: Any, length: int) -> list[tuple[str, int, int]]:
    if not isinstance(raw, list):
        raise RowError(f"field 'sections' must be a list of [label, start, end], got {_short(raw)}")
    sections = []
    for item in raw:
        ok = isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], str) \
            and all(isinstance(n, int) and not isinstance(n, bool) for n in item[1:])
        if not ok or not 0 <= item[1] <= item[2] <= length:
            raise RowError(f"bad section {_short(item)}: need [label, start, end] with 0 <= start <= end <= {length}")
        sections.append((item[0], item[1], item[2]))
    return sections


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Unique:
    def __init__(self) -> None:
        self.first_line: dict[str, int] = {}

    def check(self, document: Document, line: int) -> None:
        first = self.first_line.setdefault(document.id, line)
        if first != line:
            raise RowError(f"duplicate id {document.id!r} (first on line {first})")


def _emit(rows: Iterable[tuple[int, dict[str, Any] | Exception]], path: Path, on_error: OnError) -> Iterator[Document]:
    unique = _Unique()
    for line, row in rows:
        try:
            if isinstance(row, Exception):
                raise row
            document = row_document(row, path.name.split(".")[0])
            unique.check(document, line)
        except RowError as exc:
            on_error(RecordError(f"{path}:{line}", f"{exc}; skipped"))
            continue
        yield document


@dataclass
class JsonlReader:
    """Reads JSON Lines, one document object per line (blank lines are ignored).

    Example:
        >>> docs = list(JsonlReader().read(Path("docs.jsonl"), print))
    """

    name: str = "jsonl"
    suffixes: tuple[str, ...] = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read every line of ``path``; a bad line is reported (file and line number) and skipped.

        Raises:
            IngestError: the file cannot be opened or its gzip stream is damaged.
        """
        yield from _emit(self._rows(path), path, on_error)

    def _rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
        with open_binary(path) as handle:
            try:
                for number, raw in enumerate(handle, start=1):
                    if raw.strip():
                        yield number, _json_row(raw)
            except GZIP_ERRORS as exc:
                raise IngestError(f"damaged gzip data: {exc}", location=str(path)) from exc


def _json_row(raw: bytes) -> dict[str, Any] | Exception:
    try:
        row = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return RowError(f"not UTF-8 (bad byte at offset {exc.start})")
    except json.JSONDecodeError as exc:
        return RowError(f"invalid JSON at column {exc.colno}: {exc.msg}")
    return row if isinstance(row, dict) else RowError(f"expected a JSON object, got {type(row).__name__}")


@dataclass
class CsvReader:
    """Reads CSV (or TSV, by suffix) with a header row naming the schema fields.

    Empty cells count as missing; extra columns go into ``metadata`` as strings.

    Example:
        >>> docs = list(CsvReader().read(Path("docs.csv"), print))
    """

    name: str = "csv"
    suffixes: tuple[str, ...] = (".csv", ".tsv", ".csv.gz", ".tsv.gz")

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        """Read every row of ``path``; a bad row is reported (file and line number) and skipped.

        Raises:
            IngestError: the file cannot be read, is not UTF-8, breaks CSV quoting, or its header
                lacks ``id`` or ``text``.
        """
        yield from _emit(self._rows(path), path, on_error)

    def _rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
        csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
        delimiter = "\t" if base_suffix(path) == ".tsv" else ","
        with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            line = 1
            try:
                header = reader.fieldnames or []
                missing = [name for name in ("id", "text") if name not in header]
                if missing:
                    raise IngestError(f"CSV header lacks {missing} (columns: {header})", location=f"{path}:1")
                for row in reader:
                    start, line = line + 1, reader.line_num
                    if None in row:
                        yield start, RowError(f"{len(header) + len(row[None])} cells but the header has {len(header)}")
                        continue
                    yield start, {k: v for k, v in row.items() if v not in (None, "")}
            except (csv.Error, UnicodeDecodeError, *GZIP_ERRORS) as exc:
                raise IngestError(f"unreadable CSV after line {line}: {exc}", location=f"{path}:{line + 1}") from exc
