"""The web page at ``/`` and the offline API reference at ``/docs`` (static files, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent.parent / "static"
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The question page."""
    return FileResponse(STATIC / "index.html", headers=_HEADERS)


@router.get("/docs")
async def docs() -> FileResponse:
    """API reference rendered from ``/openapi.json`` by local script (works offline)."""
    return FileResponse(STATIC / "docs.html", headers=_HEADERS)


@router.get("/docs/swagger")
async def swagger() -> HTMLResponse:
    """Swagger UI (loads its script from a CDN, so it needs internet access in the browser)."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="ragmed API - Swagger UI")
