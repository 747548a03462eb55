"""ASGI middleware: access logs and metrics, request time limits, body size limits.

They are plain ASGI callables (not ``BaseHTTPMiddleware``) so streamed responses pass through
untouched and a request's whole life, streaming included, is timed.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deid import deidentify
from api.errors import error_response
from api.metrics import ApiMetrics
from ragmed.logs import LogHasher

access_logger = logging.getLogger("ragmed.api.access")


class BodyTooLarge(HTTPException):
    """Raised while reading a body that exceeds the limit; answered with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: request body exceeds the limit of {limit} bytes")
        self.field = "body"


_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def note_text(request: Request, name: str, text: str) -> None:
    """Record personal text (a question, a query) for the access log as its keyed hash and length, plus a
    de-identified copy when ``logging.deidentified_copy`` is set; the text itself is never kept."""
    runtime = request.app.state.runtime
    fields: dict[str, Any] = runtime.hasher.fields(name, text)
    if runtime.settings.logging.deidentified_copy:
        fields[f"{name}_deid"] = deidentify(text)
    request.state.log_fields = {**getattr(request.state, "log_fields", {}), **fields}


class ObservabilityMiddleware:
    """Counts and times every request per route template and writes one JSON access-log line.

    Log fields: ``request_id``, ``method``, ``route`` (the template, e.g. ``/v1/documents/{doc_id}``),
    ``status``, ``duration_ms``, ``client`` (key name, or a keyed hash of the address) and keyed hashes with
    lengths of what could identify someone: ``path_hmac`` (when the path holds a parameter), ``query_hmac``,
    ``question_hmac``/``query_text_hmac``. A client's ``X-Request-ID`` is echoed back, and logged as sent only
    when it is a UUID (otherwise as ``h:<hash>``).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, hasher: LogHasher) -> None:
        self.app = app
        self.metrics = metrics
        self.hasher = hasher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        sent_id = headers.get(b"x-request-id", b"").decode("latin-1")[:128]
        request_id = sent_id or uuid.uuid4().hex
        logged_id = request_id if not sent_id or _UUID.match(sent_id) else "h:" + self.hasher.digest(sent_id)
        scope.setdefault("state", {})
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_progress.dec()
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(route, scope["method"], status, elapsed)
            self._log(scope, logged_id, route, status, elapsed)

    def _log(self, scope: Scope, request_id: str, route: str, status: int, elapsed: float) -> None:
        if not access_logger.isEnabledFor(logging.INFO):
            return
        state: dict[str, Any] = scope.get("state") or {}
        record: dict[str, Any] = {
            "event": "request",
            "ts": round(time.time(), 3),
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "client": state.get("client") or "addr:" + self.hasher.digest(_host(scope))[:16],
        }
        if scope["path"] != route:
            record.update(self.hasher.fields("path", scope["path"]))
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            record.update(self.hasher.fields("query", query))
        record.update(state.get("log_fields") or {})
        access_logger.info(json.dumps(record, ensure_ascii=True))


def _host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class TimeoutMiddleware:
    """Ends a request that runs longer than ``seconds``: 504 if nothing was sent yet, else the stream is cut."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        finished = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        with anyio.move_on_after(self.seconds) as scope_:
            await self.app(scope, receive, send_wrapper)
        if scope_.cancelled_caught:
            if not started:
                response = error_response(504, f"request: took longer than the limit of {self.seconds:g} s")
                await response(scope, receive, send)
            elif not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})


class BodyLimitMiddleware:
    """Refuses bodies larger than ``max_bytes`` with 413, by ``Content-Length`` or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length > self.max_bytes or length < 0:
                    message = (f"body: request body of {length} bytes exceeds the limit of {self.max_bytes} bytes"
                               if length > 0 else "Content-Length: not a valid length")
                    await error_response(413 if length > 0 else 400, message, "body")(scope, receive, send)
                    return
        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, receive_wrapper, send)
