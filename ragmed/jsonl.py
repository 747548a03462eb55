"""JSON Lines: the one reader of ragmed's line-per-record files (evaluation sets, the safety bank, datasets).

Example:
    >>> for location, record in iter_jsonl(Path("eval/sets/abstention/questions.jsonl")):  # doctest: +SKIP
    ...     print(location, record["question"])
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ragmed.errors import IngestError
from ragmed.types import RecordError

__all__ = ["iter_jsonl"]


def iter_jsonl(path: Path, on_error: Callable[[RecordError], None] | None = None
               ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(location, record)`` for each JSON object line of ``path`` (gzip-compressed when its name ends in
    ``.gz``); ``location`` is ``"<path>:<line number>"``; blank lines are skipped.

    Args:
        path: the file.
        on_error: receives a bad line (not JSON, or not an object) as a ``RecordError`` naming file and line, and
            the line is skipped; None: a bad line raises.

    Raises:
        IngestError: the file cannot be opened, or (``on_error`` None) a line is not a JSON object; the message
            names the file and the line.
    """
    opener: Callable[..., IO[str]] = gzip.open if Path(path).suffix == ".gz" else open
    try:
        handle = opener(path, "rt", encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"cannot read: {exc}", location=str(path)) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            location = f"{path}:{number}"
            try:
                record = json.loads(line)
                problem = None if isinstance(record, dict) else f"expected a JSON object, got {type(record).__name__}"
            except ValueError as exc:
                problem = f"not valid JSON: {exc}"
            if problem is None:
                yield location, record
            elif on_error is None:
                raise IngestError(problem, location=location)
            else:
                on_error(RecordError(location, problem))

