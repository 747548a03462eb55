"""The FastAPI application: ``create_app`` builds it, ``serve`` runs it with uvicorn.

Example:
    >>> from api import create_app
    >>> app = create_app()          # loads the configured index in the background at startup
    $ ragmed serve --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.errors import install_handlers
from api.middleware import (
    BodyLimitMiddleware,
    ObservabilityMiddleware,
    TimeoutMiddleware,
    access_logger,
)
from api.openapi import install_openapi
from api.ratelimit import RateLimiter
from api.responses import SSE_EVENTS, ChatChunk
from api.routes import ask, chat, documents, service, web
from api.runtime import Runtime
from api.schemas import DocumentIn
from api.security import KeyStore
from api.work import AnswerPool
from ragmed.config import Settings, load_settings
from ragmed.errors import RagmedError
from ragmed.logs import LogHasher, load_hash_key
from ragmed.version import ragmed_version

if TYPE_CHECKING:
    from ragmed.engine import Engine

logger = logging.getLogger("ragmed.api")

DESCRIPTION = """Cited answers from medical literature and ontologies.

Reads (`/v1/ask`, `/v1/search`, `/v1/documents/{id}`, `/v1/concepts`, `/v1/chat/completions`) take an
API key when the service requires one; writes (`POST`/`DELETE /v1/documents`) always do, and choosing another
generator than the server's, or a token limit above its default, needs a key with the `generate` permission.
Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Limits: 401/403 for keys, 413 for large
bodies, 422 for invalid fields (the message names the field), 429 with `Retry-After` for rate limits, 503
with `Retry-After` when the answer queue is full, 504 past the request deadline. A client that disconnects
cancels its answer.
"""


def create_app(settings: Settings | None = None, engine: Engine | None = None, index: str | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: settings (read from ``RAGMED_*`` when None); ``settings.api`` sets keys, limits and CORS.
        engine: an open engine to serve; when None the lifespan opens ``Engine.open(settings, index)``
            in the background and ``/readyz`` turns 200 once it is loaded and warm.
        index: index name when the engine is opened here (when None, the shard set ``settings.index.shards``
            if it lists any, else ``settings.index.name``).

    Returns:
        The FastAPI app.

    Raises:
        ConfigError: a malformed API key in the settings.
    """
    settings = settings or load_settings()
    runtime = Runtime(
        settings=settings,
        keys=KeyStore.parse(settings.api.api_keys),
        limiter=RateLimiter(settings.api.rate_limit_per_minute, settings.api.rate_limit_storage),
        pool=AnswerPool(settings.api.answer_workers, settings.api.answer_queue),
        hasher=LogHasher(load_hash_key(settings)),
        index=index or serving_name(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(_load(runtime, engine, index))
        try:
            yield
        finally:
            loading.cancel()
            runtime.pool.close()
            if engine is None and runtime.engine is not None:
                close = getattr(runtime.engine, "close", None)
                if close is not None:
                    await run_in_threadpool(close)

    app = FastAPI(title="ragmed", version=ragmed_version(), description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_handlers(app)
    modules = (ask, documents, chat, service, web)
    for module in modules:
        app.include_router(module.router)
    app.state.routes = [*app.router.routes, *(route for module in modules for route in module.router.routes)]
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    install_openapi(app, [*SSE_EVENTS.values(), ChatChunk, DocumentIn], settings.api.max_question_chars,
                    settings.api.require_key_for_reads)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(TimeoutMiddleware, seconds=settings.api.request_timeout_s)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(ObservabilityMiddleware, metrics=runtime.metrics, hasher=runtime.hasher)
    return app


def serving_name(settings: Settings) -> str:
    """The name of what is served when no index is named: the shard set's indexes joined by '+', or the index."""
    return "+".join(settings.index.shards) or settings.index.name


async def _load(runtime: Runtime, engine: Engine | None, index: str | None) -> None:
    """Open the engine (unless given) and warm the embedder, index and default generator."""
    try:
        if engine is None:
            from ragmed.engine import Engine

            engine = await run_in_threadpool(Engine.open, runtime.settings, index)
        runtime.engine = engine
        await run_in_threadpool(_warm, engine)
        if runtime.settings.logging.deidentified_copy:
            from api.deid import deidentify

            await run_in_threadpool(deidentify, "warm up")  # its word lists load before the first request
        runtime.ready = True
        logger.info("index ready", extra={"index": runtime.index, "revision": engine.revision})
    except Exception as exc:  # reported by /readyz and logged; the service keeps answering 503
        runtime.error = f"{type(exc).__name__}: {exc}"
        logger.error("index failed to load", exc_info=exc)


def _warm(engine: Engine) -> None:
    """Load the embedder, the index and the default generator by using them once."""
    engine.search("warm up", k=1)
    try:
        engine.ask("What is diabetes?", k=1)
    except RagmedError as exc:
        logger.warning("warm-up answer failed; the first request will load the generator", extra={"error": str(exc)})


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index: str | None = None) -> None:
    """Run the HTTP service with uvicorn until interrupted, writing JSON access logs to stderr.

    Args:
        settings: settings (``RAGMED_*`` when None).
        host: bind address (``settings.api.host`` when None).
        port: port (``settings.api.port`` when None).
        index: index to serve (the shard set ``settings.index.shards`` or ``settings.index.name`` when None).
    """
    import uvicorn

    settings = settings or load_settings()
    if not access_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_logger.addHandler(handler)
        access_logger.setLevel(logging.INFO)
        access_logger.propagate = False
    app = create_app(settings, index=index)
    uvicorn.run(app, host=host or settings.api.host, port=port or settings.api.port,
                log_level=settings.logging.level.lower(), access_log=False,
                timeout_graceful_shutdown=10)
