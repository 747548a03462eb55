"""Server-Sent Events framing.

``/v1/ask`` streams named events, each one JSON line of data::

    event: token
    data: {"text": "Metformin "}

    event: answer
    data: {"question": "...", "text": "...", "citations": [...], ...}

    event: done
    data: {}

``/v1/chat/completions`` uses the OpenAI framing: unnamed ``data:`` events ending with ``data: [DONE]``.
JSON never contains a raw newline, so every event has exactly one ``data:`` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str, data: Any) -> bytes:
    """Frame one named event whose data is ``data`` as compact JSON."""
    return f"event: {name}\ndata: {_json(data)}\n\n".encode()


def data(payload: Any) -> bytes:
    """Frame one unnamed event; ``payload`` is JSON-encoded unless it is already a string."""
    text = payload if isinstance(payload, str) else _json(payload)
    return f"data: {text}\n\n".encode()


def parse(lines: Iterable[str]) -> list[tuple[str, str]]:
    """Parse SSE text lines into ``(event name, data)`` pairs (``message`` when unnamed).

    Args:
        lines: the lines of a stream, with or without their line endings.

    Returns:
        One pair per event, data lines joined with newlines as the SSE specification says.
    """
    events: list[tuple[str, str]] = []
    name, buf = "message", list[str]()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if buf:
                events.append((name, "\n".join(buf)))
            name, buf = "message", list[str]()
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            value = line[5:]
            buf.append(value.removeprefix(" "))
    if buf:
        events.append((name, "\n".join(buf)))
    return events


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
