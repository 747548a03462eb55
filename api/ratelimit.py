"""Per-client token-bucket rate limiting.

Each client (an API key's name, or the client address when no key is sent) has a bucket that holds
up to ``burst`` tokens and refills at ``rate_per_minute / 60`` tokens per second. A request takes one
token; when the bucket is empty the request is refused and the caller is told how long to wait.

Example:
    >>> limiter = TokenBucketLimiter(rate_per_minute=60)
    >>> limiter.acquire("addr:127.0.0.1")
    0.0
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucketLimiter:
    """Token buckets keyed by client identity.

    Args:
        rate_per_minute: tokens added per minute (and the default bucket size).
        burst: bucket size; ``rate_per_minute`` when None.
        clock: monotonic clock in seconds (a parameter so behaviour can be checked without sleeping).
        max_clients: buckets kept at most; full buckets are dropped first, then the least recently used.

    Raises:
        ValueError: ``rate_per_minute``, ``burst`` or ``max_clients`` is not positive.
    """

    def __init__(
        self,
        rate_per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be greater than 0, got {rate_per_minute}")
        if burst is not None and burst <= 0:
            raise ValueError(f"burst must be greater than 0, got {burst}")
        if max_clients <= 0:
            raise ValueError(f"max_clients must be greater than 0, got {max_clients}")
        self.rate = rate_per_minute / 60.0
        self.capacity = float(burst if burst is not None else rate_per_minute)
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, identity: str) -> float:
        """Take one token for ``identity``.

        Args:
            identity: the client, e.g. ``"key:portal"`` or ``"addr:10.0.0.5"``.

        Returns:
            0.0 when the request may go ahead; otherwise the seconds until a token is available.
        """
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(identity, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[identity] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[identity] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            if len(self._buckets) > self._max_clients:
                self._evict(now)
            return wait

    def _evict(self, now: float) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
