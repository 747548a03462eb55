"""Request dependencies: API key checks and rate limits for read and write endpoints."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.runtime import get_runtime

_bearer = HTTPBearer(auto_error=False, description="API key sent as 'Authorization: Bearer <key>'.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key sent as 'X-API-Key: <key>'.")


def _address(request: Request) -> str:
    return f"addr:{request.client.host if request.client else 'unknown'}"


def _limit(request: Request, identity: str) -> None:
    runtime = get_runtime(request)
    wait = runtime.limiter.acquire(identity)
    if wait > 0:
        per_minute = runtime.settings.api.rate_limit_per_minute
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"rate limit: {per_minute} requests per minute exceeded for this client; retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def _authorize(request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None, write: bool) -> str:
    runtime = get_runtime(request)
    presented = header or (bearer.credentials if bearer else None)
    if presented:
        name = runtime.keys.identify(presented)
        if name is None:
            _limit(request, _address(request))
            raise ApiError(403, "Authorization: the API key is not valid", field="Authorization")
        identity = f"key:{name}"
    elif write or runtime.settings.api.require_key_for_reads:
        kind = "writes" if write else "reads"
        raise ApiError(
            401,
            f"Authorization: an API key is required for {kind}; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        identity = _address(request)
    request.state.client = identity
    _limit(request, identity)
    return identity


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
KeyHeader = Annotated[str | None, Depends(_header)]


async def read_access(request: Request, bearer: Bearer, header: KeyHeader) -> str:
    """Allow a read: a key is checked when sent and required when ``require_key_for_reads`` is set.

    Returns:
        The client identity used for rate limiting (``key:<name>`` or ``addr:<host>``).

    Raises:
        ApiError: 401 (no key where one is required), 403 (wrong key), 429 (rate limit, with Retry-After).
    """
    return _authorize(request, bearer, header, write=False)


async def write_access(request: Request, bearer: Bearer, header: KeyHeader) -> str:
    """Allow a write: a valid key is always required.

    Raises:
        ApiError: 401 (no key), 403 (wrong key), 429 (rate limit, with Retry-After).
    """
    return _authorize(request, bearer, header, write=True)


ReadAccess = Annotated[str, Depends(read_access)]
WriteAccess = Annotated[str, Depends(write_access)]
