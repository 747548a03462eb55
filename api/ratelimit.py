"""Per-client rate limits with the ``limits`` library: a moving window of ``rate_per_minute`` requests.

Counters live in the storage that ``api.rate_limit_storage`` names: ``memory://`` (one process, the
default) or ``redis://host:6379/0`` (shared by every worker; needs the ``redis`` extra).

Example:
    >>> limiter = RateLimiter(rate_per_minute=60)
    >>> await limiter.acquire("addr:127.0.0.1")  # doctest: +SKIP
    0.0
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from ragmed.errors import ConfigError


class RateLimiter:
    """Moving-window limits keyed by client identity.

    Args:
        rate_per_minute: requests one client may make in any 60 seconds.
        storage: a ``limits`` storage URI such as ``memory://`` or ``redis://localhost:6379/0``.

    Raises:
        ConfigError: ``rate_per_minute`` is not positive, or the storage URI cannot be used (the message
            names ``api.rate_limit_storage`` and the extra to install).
    """

    def __init__(self, rate_per_minute: int, storage: str = "memory://") -> None:
        if rate_per_minute <= 0:
            raise ConfigError(f"api.rate_limit_per_minute: must be greater than 0, got {rate_per_minute}")
        uri = storage if storage.startswith("async+") else f"async+{storage}"
        try:
            backend = storage_from_string(uri)
        except ConfigurationError as exc:
            raise ConfigError(f"api.rate_limit_storage: cannot use {storage!r} ({exc}); for Redis install "
                              "the extra: pip install 'ragmed[redis]'") from exc
        if not isinstance(backend, Storage):
            raise ConfigError(f"api.rate_limit_storage: {storage!r} is not an asynchronous storage")
        self.rate_per_minute = rate_per_minute
        self._item = RateLimitItemPerMinute(rate_per_minute)
        self._limiter = MovingWindowRateLimiter(backend)

    async def acquire(self, identity: str) -> float:
        """Count one request for ``identity``.

        Args:
            identity: the client, e.g. ``"key:portal"`` or ``"addr:<hash>"``.

        Returns:
            0.0 when the request may go ahead; otherwise the seconds until the window lets one through.
        """
        if await self._limiter.hit(self._item, identity):
            return 0.0
        stats = await self._limiter.get_window_stats(self._item, identity)
        return max(1.0, math.ceil(stats.reset_time - time.time()))
