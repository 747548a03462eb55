"""What one app holds while it runs: settings, the engine, keys, limiter, answer pool, log hasher, metrics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import anyio.to_thread
from fastapi import Request

from api.errors import ApiError
from api.metrics import ApiMetrics
from api.ratelimit import RateLimiter
from api.security import KeyStore
from api.work import AnswerPool
from ragmed.config import Settings
from ragmed.logs import LogHasher

if TYPE_CHECKING:
    from ragmed.engine import Engine

T = TypeVar("T")


@dataclass
class Runtime:
    """State shared by the routes of one app (``app.state.runtime``)."""

    settings: Settings
    keys: KeyStore
    limiter: RateLimiter
    pool: AnswerPool
    hasher: LogHasher
    metrics: ApiMetrics = field(default_factory=ApiMetrics)
    engine: Engine | None = None
    ready: bool = False
    error: str | None = None
    index: str | None = None

    def require_engine(self) -> Engine:
        """Return the engine, or raise a 503 while it is loading or after it failed to load."""
        if self.engine is None or not self.ready:
            reason = f"index failed to load: {self.error}" if self.error else "index is loading; retry shortly"
            raise ApiError(503, reason, headers={"Retry-After": "5"})
        return self.engine


def get_runtime(request: Request) -> Runtime:
    """Return the runtime of the app serving ``request``."""
    return cast(Runtime, request.app.state.runtime)


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a short blocking call (search, a document read) in a worker thread so the event loop keeps serving."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
