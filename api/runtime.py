"""What one app holds while it runs: settings, the engine, keys, limiter, metrics and readiness."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

from api.errors import ApiError
from api.metrics import ApiMetrics
from api.ratelimit import TokenBucketLimiter
from api.security import KeyStore
from ragmed.config import Settings

if TYPE_CHECKING:
    from ragmed.engine import Engine

T = TypeVar("T")


@dataclass
class Runtime:
    """State shared by the routes of one app (``app.state.runtime``)."""

    settings: Settings
    keys: KeyStore
    limiter: TokenBucketLimiter
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
    return request.app.state.runtime  # type: ignore[no-any-return]


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call in a worker thread so the event loop keeps serving.

    A request timeout abandons the wait (the call finishes in its thread, its result unused).
    """
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), abandon_on_cancel=True)


async def iterate_blocking(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Pull items from a blocking iterator, each ``next`` in a worker thread."""
    sentinel = object()
    try:
        while True:
            item = await run_blocking(next, iterator, sentinel)
            if item is sentinel:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            try:
                close()
            except ValueError:
                pass  # still running in an abandoned worker thread; it ends on its own
