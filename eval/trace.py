"""The per-question trace: one JSON object per line, appended as items finish, safe to resume."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ragmed.errors import IngestError

TRACE = "trace.jsonl"


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a trace; a last line cut short by an interruption is ignored.

    Raises:
        IngestError: a line before the last one is damaged (names the file and line).
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    lines.pop()  # "" after the last newline, or a line cut short by an interruption
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise IngestError(f"damaged trace record: {exc}", location=f"{path}:{number}") from exc
    return records


class TraceWriter:
    """Appends records to ``trace.jsonl``, each flushed and synced before the next item starts.

    A partial last line left by an interrupted run is cut off first, so the file stays one
    complete record per line.

    Example:
        >>> with TraceWriter(run_dir / "trace.jsonl") as trace:  # doctest: +SKIP
        ...     trace.write({"id": "1", "prediction": {...}})
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        _drop_partial_tail(path)
        self._handle = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_tail(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
