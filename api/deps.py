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


def _credentials(request: Request, header: str | None) -> list[tuple[str, str]]:
    """Every key the request sends, with the header it came in: ``Authorization: Bearer <key>`` and ``X-API-Key``.

    Raises:
        ApiError: 401 when ``Authorization`` is sent in another form than ``Bearer <key>``.
    """
    sent: list[tuple[str, str]] = []
    raw = request.headers.get("authorization")
    if raw is not None:
        scheme, _, secret = raw.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "Authorization: expected 'Bearer <key>'", field="Authorization",
                           headers={"WWW-Authenticate": "Bearer"})
        sent.append(("Authorization", secret.strip()))
    if header is not None:
        sent.insert(0, ("X-API-Key", header))
    return sent


async def _authorize(request: Request, header: str | None, need: str) -> Caller:
    runtime = get_runtime(request)
    sent = _credentials(request, header)
    keys = []
    for field, secret in sent:  # every key sent must be valid, so a bad one is never hidden by a good one
        key = runtime.keys.identify(secret)
        if key is None:
            await _limit(request, _address(request))
            raise ApiError(403, f"{field}: the API key is not valid", field=field)
        keys.append(key)
    if keys:
        key = keys[0]
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


# Both declare their scheme in /openapi.json; ``_credentials`` reads the headers themselves, so that an
# ``Authorization`` header of another scheme is refused rather than ignored.
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
KeyHeader = Annotated[str | None, Depends(_header)]


async def read_access(request: Request, bearer: Bearer, header: KeyHeader) -> Caller:
    """Allow a read: a key is checked when sent (it needs ``read``) and required when ``require_key_for_reads``.

    Returns:
        The caller (``key:<name>`` or ``addr:<hash>``) and its permissions.

    Raises:
        ApiError: 401 (no key where one is required, or ``Authorization`` not of the form ``Bearer <key>``),
            403 (a key sent is not valid), 429 (rate limit, with Retry-After).
    """
    return await _authorize(request, header, "read")


async def write_access(request: Request, bearer: Bearer, header: KeyHeader) -> Caller:
    """Allow a write: a valid key with the ``write`` permission is always required.

    Raises:
        ApiError: 401 (no key, or ``Authorization`` not of the form ``Bearer <key>``), 403 (a key sent is not
            valid, or lacks the write permission), 429 (rate limit, with Retry-After).
    """
    return await _authorize(request, header, "write")


ReadAccess = Annotated[Caller, Depends(read_access)]
WriteAccess = Annotated[Caller, Depends(write_access)]
