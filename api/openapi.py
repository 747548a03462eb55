"""What the OpenAPI schema says beyond the route signatures: error responses, stream events, limits."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.responses import ErrorBody

_WHY = {
    400: "The body is not valid JSON.",
    401: "An API key is required (see WWW-Authenticate).",
    403: "The API key is not valid or lacks the permission the request needs.",
    404: "No such document.",
    413: "The body is larger than api.max_body_bytes.",
    415: "The Content-Type is not one this endpoint reads.",
    422: "A field is invalid; the message and 'errors' name it.",
    429: "Rate limit exceeded; retry after Retry-After seconds.",
    503: "The index is loading or cannot be read (the message names a shard of a shard set that is missing, "
         "damaged or failed, unless index.allow_partial), a generator is unavailable, or the answer queue is "
         "full; retry after Retry-After seconds.",
    504: "The request took longer than api.request_timeout_s.",
}
_RETRY = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry for error statuses: each with ``ErrorBody`` and why it happens."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _WHY[code]}
        if code in (429, 503):
            entry["headers"] = _RETRY
        if code == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "The scheme to use: Bearer.", "schema": {"type": "string"}}}
        out[code] = entry
    return out


READ = (401, 403, 429)
BODY = (400, 413, 422)
ENGINE = (503, 504)


def sse_content(events: list[tuple[str, type[BaseModel] | tuple[type[BaseModel], ...] | None]],
                description: str) -> dict[str, Any]:
    """A ``text/event-stream`` media type whose ``itemSchema`` gives each event's name and the model of its
    JSON ``data`` (a tuple: any of these models; None: ``data: [DONE]``). An event named ``message`` (the SSE
    default) is sent without an ``event:`` line."""
    variants: list[dict[str, Any]] = []
    for name, model in events:
        data: dict[str, Any]
        if model is None:
            data = {"type": "string", "const": "[DONE]"}
        else:
            refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in (model if isinstance(model, tuple) else (model,))]
            data = {"type": "string", "contentMediaType": "application/json",
                    "contentSchema": refs[0] if len(refs) == 1 else {"anyOf": refs}}
        properties: dict[str, Any] = {"data": data, "event": {"type": "string", "const": name}}
        required = ["data"] if name == "message" else ["data", "event"]
        variants.append({"type": "object", "required": required, "properties": properties})
    return {"text/event-stream": {"itemSchema": {"anyOf": variants, "description": description}}}


def install_openapi(app: FastAPI, models: list[type[BaseModel]], max_text: int, keys_for_reads: bool) -> None:
    """Make ``app.openapi()`` include ``models`` (stream payloads), the configured text length limit, and
    whether reads need a key (when they do not, a read's security list also offers no key: ``{}``)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in found.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, found)
        for name, field in (("AskRequest", "question"), ("SearchRequest", "query")):
            components.get(name, {}).get("properties", {}).get(field, {})["maxLength"] = max_text
        for path in schema.get("paths", {}).values():
            for method, operation in path.items():
                write = "documents" in operation.get("tags", []) and method in ("post", "delete")
                if operation.get("security") and not write and not keys_for_reads and {} not in operation["security"]:
                    operation["security"].append({})
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "q":
                        parameter["schema"]["maxLength"] = max_text
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
