"""Error responses: every failure becomes JSON that names the field at fault.

The body carries both a FastAPI-style ``detail`` string and an OpenAI-style ``error`` object, so
plain HTTP clients and OpenAI SDKs both show the message::

    {"detail": "question: must not be empty",
     "error": {"message": "question: must not be empty", "type": "invalid_request_error",
               "param": "question", "code": 422}}

``RagmedError`` subclasses map to 4xx or 503; anything else is a bug, logged with its traceback
and answered with a bare 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragmed.errors import (
    ConfigError,
    GenerationError,
    IndexError_,
    IngestError,
    InvalidRequestError,
    MissingDependencyError,
    OntologyError,
    RagmedError,
    RequestCancelledError,
    RetrievalError,
)

logger = logging.getLogger("ragmed.api")

_TYPES = {499: "client_closed_request", 405: "invalid_request_error", 400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 415: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable",
          504: "timeout_error"}

# Most specific first.
_RAGMED_STATUS: list[tuple[type[RagmedError], int, str | None]] = [
    (MissingDependencyError, 503, "generator"),
    (GenerationError, 503, "generator"),
    (IndexError_, 503, None),
    (RequestCancelledError, 499, None),
    (InvalidRequestError, 422, None),
    (RetrievalError, 400, "filters"),
    (IngestError, 422, "file"),
    (OntologyError, 422, None),
    (ConfigError, 400, None),
]


class ApiError(Exception):
    """An error answered with ``status``; ``field`` names the offending input.

    Args:
        status: HTTP status code.
        message: what went wrong, naming the field and value.
        field: the request field at fault (``question``, ``filters.year_min``, ``Authorization``...).
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def _safe(text: str) -> str:
    """``text`` with lone surrogates written as escapes, so the body is always valid UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """Build the JSON body of an error response (the ``ErrorBody`` model)."""
    message = _safe(message)
    field = _safe(field) if field is not None else None
    return {
        "detail": message,
        "error": {"message": message, "type": _TYPES.get(status, "api_error"), "param": field, "code": status},
    }


def error_response(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """Build an error response (used by handlers and middleware)."""
    return JSONResponse(error_body(status, message, field), status_code=status, headers=headers)


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """Turn a pydantic location such as ``("body", "filters", "year_min")`` into ``filters.year_min``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    if not parts:
        return "body"
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in parts).replace(".[", "[")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _route(request: Request) -> str:
    """The route template of ``request`` (never its path: a path can hold a document id)."""
    return str(getattr(request.scope.get("route"), "path", None) or "unmatched")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (several routes can share one path)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None) or set()
        if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for m in route_methods):
            methods |= set(route_methods)
    return sorted(methods)


def status_for(exc: RagmedError) -> tuple[int, str | None]:
    """Return the HTTP status and field for a ``RagmedError``."""
    for cls, status, field in _RAGMED_STATUS:
        if isinstance(exc, cls):
            return status, field
    return 400, None


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        messages: list[str] = []
        fields: list[str] = []
        status = 422
        for err in errors:
            loc = tuple(err.get("loc", ()))
            name = field_name(loc)
            fields.append(name)
            if err.get("type") == "json_invalid":
                status = 400
                messages.append(f"body: invalid JSON ({err.get('ctx', {}).get('error', err.get('msg'))})")
                fields[-1] = "body"
                continue
            msg = f"{name}: {str(err.get('msg')).removeprefix('Value error, ')}"
            if err.get("type") not in ("missing", "extra_forbidden") and "input" in err and name != "question":
                msg += f" (got {_short(err['input'])})"
            messages.append(msg)
        body = error_body(status, "; ".join(messages) or "invalid request", fields[0] if fields else None)
        body["errors"] = [{"field": _safe(f), "message": _safe(m)} for f, m in zip(fields, messages, strict=True)]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"path: no endpoint at {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"method: {request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return error_response(exc.status_code, message, getattr(exc, "field", None), headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(RagmedError)
    async def _ragmed(request: Request, exc: RagmedError) -> JSONResponse:
        status, field = status_for(exc)
        headers = {"Retry-After": "5"} if status == 503 else None
        logger.warning("request failed", extra={"route": _route(request), "status": status, "error": type(exc).__name__})
        return error_response(status, str(exc), field, headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error", exc_info=exc, extra={"route": _route(request)})
        return error_response(500, "internal error; the server logged the details")
