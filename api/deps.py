"""Request dependencies: API key checks, permissions and rate limits for read and write endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.runtime import get_runtime

_bearer = HTTPBearer(auto_error=False, description="API key sent as 'Authorization: Bearer <key>'.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key sent as 'X-API-Key: <key>'.")


@dataclass(frozen=True)
class Caller:
    """Who is asking: ``identity`` for rate limits and logs, and what the key may do (nothing without a key)."""

    identity: str
    permissions: frozenset[str] = frozenset()

    def require(self, permission: str, field: str, what: str) -> None:
        """Refuse the request unless the caller's key has ``permission``.

        Raises:
            ApiError: 401 without a key, 403 with a key that lacks the permission; both name ``field``.
        """
        if permission in self.permissions:
            return
        if not self.identity.startswith("key:"):
            raise ApiError(401, f"{field}: {what} needs an API key with the '{permission}' permission", field,
                           headers={"WWW-Authenticate": "Bearer"})
        raise ApiError(403, f"{field}: {what} needs the '{permission}' permission, which this API key lacks", field)


def _address(request: Request) -> str:
    runtime = get_runtime(request)
    host = request.client.host if request.client else "unknown"
    return f"addr:{runtime.hasher.digest(host)[:16]}"


async def _limit(request: Request, identity: str) -> None:
    runtime = get_runtime(request)
    wait = await runtime.limiter.acquire(identity)
    if wait > 0:
        seconds = int(wait)
        raise ApiError(
            429,
            f"rate limit: {runtime.limiter.rate_per_minute} requests per minute exceeded for this client; "
            f"retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


async def _authorize(request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None,
                     need: str) -> Caller:
    runtime = get_runtime(request)
    presented = header or (bearer.credentials if bearer else None)
    if header and bearer and runtime.keys.identify(bearer.credentials) is None:
        presented = bearer.credentials  # two keys sent: both must be valid
    if presented:
        key = runtime.keys.identify(presented)
        if key is None:
            await _limit(request, _address(request))
            raise ApiError(403, "Authorization: the API key is not valid", field="Authorization")
        caller = Caller(f"key:{key.name}", key.permissions)
        if need not in key.permissions:
            raise ApiError(403, f"Authorization: this API key lacks the '{need}' permission", field="Authorization")
    elif need == "write" or runtime.settings.api.require_key_for_reads:
        kind = "writes" if need == "write" else "reads"
        raise ApiError(
            401,
            f"Authorization: an API key is required for {kind}; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        caller = Caller(_address(request))
    request.state.client = caller.identity
    await _limit(request, caller.identity)
    return caller


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
KeyHeader = Annotated[str | None, Depends(_header)]


async def read_access(request: Request, bearer: Bearer, header: KeyHeader) -> Caller:
    """Allow a read: a key is checked when sent (it needs ``read``) and required when ``require_key_for_reads``.

    Returns:
        The caller (``key:<name>`` or ``addr:<hash>``) and its permissions.

    Raises:
        ApiError: 401 (no key where one is required), 403 (wrong key), 429 (rate limit, with Retry-After).
    """
    return await _authorize(request, bearer, header, "read")


async def write_access(request: Request, bearer: Bearer, header: KeyHeader) -> Caller:
    """Allow a write: a valid key with the ``write`` permission is always required.

    Raises:
        ApiError: 401 (no key), 403 (wrong key or no write permission), 429 (rate limit, with Retry-After).
    """
    return await _authorize(request, bearer, header, "write")


ReadAccess = Annotated[Caller, Depends(read_access)]
WriteAccess = Annotated[Caller, Depends(write_access)]
