"""``/v1/documents``: read one document, add documents (JSON or file upload), delete one."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import ReadAccess, WriteAccess
from api.errors import ApiError, field_name
from api.runtime import get_runtime, run_blocking
from api.schemas import DocumentIn
from api.serialize import document_json
from ragmed.types import Document, IngestReport, RecordError

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [
                    {"type": "array", "items": DocumentIn.model_json_schema()},
                    {"type": "object", "properties": {"documents": {"type": "array", "items": DocumentIn.model_json_schema()}}},
                ]}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
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


@router.get("/{doc_id:path}", summary="One document with its full text")
async def get_document(doc_id: str, request: Request, _: ReadAccess) -> dict[str, Any]:
    """Return the document (id, source, title, text, url, licence, date, sections, metadata).

    Citation spans (``start``, ``end``) index into ``text``.
    """
    engine = get_runtime(request).require_engine()
    document = await run_blocking(engine.get_document, doc_id)
    if document is None:
        raise ApiError(404, f"doc_id: no document with id {doc_id!r}", "doc_id")
    return document_json(document)


@router.post("", summary="Add or update documents", openapi_extra=_UPLOAD_DOC)
async def add_documents(request: Request, _: WriteAccess) -> dict[str, Any]:
    """Add documents given as a JSON list (``Document`` fields) or as uploaded files in any supported format.

    Returns the counts (added, updated, unchanged, skipped, chunks) and one error per skipped record;
    the good records of a batch go in even when others are refused.
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


@router.delete("/{doc_id:path}", summary="Delete one document")
async def delete_document(doc_id: str, request: Request, _: WriteAccess) -> dict[str, Any]:
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
    if isinstance(payload, dict) and "documents" in payload:
        payload = payload["documents"]
    if not isinstance(payload, list):
        raise ApiError(422, f"body: expected a list of documents, got {type(payload).__name__}", "body")
    if not payload:
        raise ApiError(422, "body: the list of documents is empty", "body")
    documents: list[Document] = []
    errors: list[RecordError] = []
    for i, item in enumerate(payload):
        where = f"documents[{i}]" + (f" (id={item.get('id')!r})" if isinstance(item, dict) and item.get("id") else "")
        try:
            documents.append(Document(**DocumentIn.model_validate(item).model_dump()))
        except ValidationError as exc:
            problems = "; ".join(f"{field_name(('body', *e['loc']))}: {e['msg']}" for e in exc.errors())
            errors.append(RecordError(where, problems))
    report = await run_blocking(engine.add, documents) if documents else IngestReport()
    report.errors = errors + report.errors
    report.skipped += len(errors)
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
    if report.errors and not (report.added or report.updated or report.unchanged):
        details = "; ".join(str(e) for e in report.errors[:5])
        raise ApiError(422, f"file: nothing could be read from the upload: {details}", "file")
    return report
