"""``/v1/documents``: read one document, add documents (JSON or file upload), delete one."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import Field, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from api.deps import ReadAccess, WriteAccess
from api.errors import ApiError, field_name
from api.openapi import BODY, READ, errors
from api.responses import DeletedOut, DocumentOut, IngestOut
from api.runtime import get_runtime, run_blocking
from api.schemas import DocumentIn, Visible
from api.serialize import document_json
from ragmed.types import Document, IngestReport

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_BATCH: TypeAdapter[list[DocumentIn]] = TypeAdapter(Annotated[list[DocumentIn], Field(min_length=1)])
_ITEMS = {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/DocumentIn"}}
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [
                    _ITEMS,
                    {"type": "object", "required": ["documents"], "additionalProperties": False,
                     "properties": {"documents": _ITEMS}},
                ]}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"},
                                 "description": "One or more files in a supported format (PubMed XML, JATS, MedQuAD, JSONL, CSV, text, Markdown, HTML, PDF...)."},
                        "format": {"type": "string", "description": "Reader name when the suffix does not tell."},
                    },
                    "required": ["file"],
                }
            },
        },
    }
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
DocId = Annotated[Visible, PathParam(description="The document id, e.g. 'pmid:12345'.")]


@router.get("/{doc_id:path}", summary="One document with its full text", response_model=DocumentOut,
            responses=errors(404, 422, *READ, 503))
async def get_document(doc_id: DocId, request: Request, _: ReadAccess) -> Any:
    """Return the document (id, source, title, text, url, licence, date, sections, metadata).

    Citation spans (``start``, ``end``) index into ``text``.
    """
    engine = get_runtime(request).require_engine()
    document = await run_blocking(engine.get_document, doc_id)
    if document is None:
        raise ApiError(404, f"doc_id: no document with id {doc_id!r}", "doc_id")
    return document_json(document)


@router.post("", summary="Add or update documents", openapi_extra=_UPLOAD_DOC, response_model=IngestOut,
             responses=errors(*BODY, 415, 401, 403, 429, 503))
async def add_documents(request: Request, _: WriteAccess) -> Any:
    """Add documents given as a JSON list (``Document`` fields) or as uploaded files in any supported format.

    A JSON list is checked whole before anything is written: a record that does not match ``DocumentIn``
    refuses the request with 422 naming each bad record (``documents[1].text``). Uploaded files go in record
    by record: the readable records are added and each unreadable record or file is counted in ``skipped`` and
    named in ``errors`` (an upload with nothing readable adds nothing and says why).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        report = await _add_json(request)
    elif content_type == "multipart/form-data":
        report = await _add_files(request)
    else:
        raise ApiError(415, f"Content-Type: expected application/json or multipart/form-data, got {content_type or 'none'!r}", "Content-Type")
    engine = get_runtime(request).require_engine()
    return {**report.to_dict(), "index_revision": engine.revision}


@router.delete("/{doc_id:path}", summary="Delete one document", response_model=DeletedOut,
               responses=errors(404, 422, 401, 403, 429, 503))
async def delete_document(doc_id: DocId, request: Request, _: WriteAccess) -> Any:
    """Delete the document and its chunks from every index."""
    engine = get_runtime(request).require_engine()
    deleted = await run_blocking(engine.delete, [doc_id])
    if not deleted:
        raise ApiError(404, f"doc_id: no document with id {doc_id!r}", "doc_id")
    return {"deleted": deleted, "id": doc_id, "index_revision": engine.revision}


async def _add_json(request: Request) -> IngestReport:
    engine = get_runtime(request).require_engine()
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body: invalid JSON ({exc})", "body") from exc
    if isinstance(payload, dict) and set(payload) == {"documents"}:
        payload = payload["documents"]
    if not isinstance(payload, list):
        raise ApiError(422, f"body: expected a list of documents or {{\"documents\": [...]}}, got {type(payload).__name__}", "body")
    try:
        records = _BATCH.validate_python(payload)
    except ValidationError as exc:
        problems = [(field_name(("body", "documents", *e["loc"])), str(e["msg"]).removeprefix("Value error, "))
                    for e in exc.errors()]
        details = "; ".join(f"{where}: {why}" for where, why in problems[:20])
        raise ApiError(422, f"nothing was written; {details}", problems[0][0] if problems else "body") from exc
    documents = [Document(**record.model_dump()) for record in records]
    report: IngestReport = await run_blocking(engine.add, documents)
    return report


async def _add_files(request: Request) -> IngestReport:
    engine = get_runtime(request).require_engine()
    form = await request.form(max_files=100, max_fields=20)
    uploads = [f for f in form.getlist("file") + form.getlist("files") if isinstance(f, UploadFile)]
    if not uploads:
        raise ApiError(422, "file: no file in the upload (send the form field 'file')", "file")
    fmt = form.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise ApiError(422, "format: must be a reader name", "format")
    with tempfile.TemporaryDirectory(prefix="ragmed-upload-") as tmp:
        paths = []
        for i, upload in enumerate(uploads):
            name = _SAFE_NAME.sub("_", Path(upload.filename or f"upload-{i}").name).lstrip(".") or f"upload-{i}"
            target = Path(tmp) / f"{i}" / name
            target.parent.mkdir()
            with target.open("wb") as handle:
                await run_blocking(shutil.copyfileobj, upload.file, handle)
            paths.append(target)
        report: IngestReport = await run_blocking(engine.add_paths, paths, format=fmt or None)
    folder = re.compile(re.escape(tmp) + r"/\d+/")
    for error in report.errors:
        error.location = folder.sub("", error.location)
        error.message = folder.sub("", error.message)
    return report
