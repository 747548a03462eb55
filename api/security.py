"""API keys: parsed from settings, kept only as SHA-256 digests, compared in constant time.

A configured key is either ``name:secret`` (the client sends ``secret``; ``name`` identifies the
client in logs and rate limits) or ``sha256:<64 hex digits>`` (the digest of the secret, so the
secret itself never appears in configuration). A key without a colon is a bare secret. Either form may
end with ``:`` and a comma-separated list of permissions: ``read``, ``write`` and ``generate`` (another
generator backend than the server's default, or a token limit above its default). A key without a list
may read and write. Clients send the secret as ``Authorization: Bearer <secret>`` or ``X-API-Key: <secret>``.

Example:
    >>> keys = KeyStore.parse(["portal:s3cret:read,generate"])
    >>> keys.identify("s3cret")
    ApiKey(name='portal', permissions=frozenset({'generate', 'read'}))
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import SecretStr

from ragmed.errors import ConfigError

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


PERMISSIONS = frozenset({"read", "write", "generate"})
DEFAULT_PERMISSIONS = frozenset({"read", "write"})


@dataclass(frozen=True)
class ApiKey:
    """One accepted key: a name for logs and rate limits, its permissions, and the SHA-256 digest of its secret."""

    name: str
    permissions: frozenset[str] = DEFAULT_PERMISSIONS
    digest: bytes = field(default=b"", repr=False)


def _permissions(raw: str) -> tuple[str, frozenset[str] | None]:
    """Split a trailing ``:read,generate`` permission list off ``raw`` when there is one."""
    head, sep, tail = raw.rpartition(":")
    names = {p.strip() for p in tail.split(",")}
    if sep and head and names and names <= PERMISSIONS:
        return head, frozenset(names)
    return raw, None


def hash_secret(secret: str) -> str:
    """Return the ``sha256:<hex>`` form of ``secret``, suitable for ``RAGMED_API__API_KEYS``."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """The accepted API keys, held as digests.

    Args:
        keys: parsed keys.
    """

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._keys = list(keys)

    @classmethod
    def parse(cls, entries: Iterable[SecretStr | str]) -> KeyStore:
        """Parse configured keys (``name:secret``, ``sha256:<hex>`` or a bare secret).

        Args:
            entries: the values of ``settings.api.api_keys``.

        Returns:
            A store holding only the digests.

        Raises:
            ConfigError: an entry is empty or has a malformed digest (the message gives its position,
                never the secret).
        """
        keys: list[ApiKey] = []
        for i, entry in enumerate(entries):
            raw = entry.get_secret_value() if isinstance(entry, SecretStr) else str(entry)
            raw, granted = _permissions(raw.strip())
            permissions = granted if granted is not None else DEFAULT_PERMISSIONS
            if raw.lower().startswith("sha256:"):
                digest = raw[len("sha256:"):]
                if not _HEX64.match(digest):
                    raise ConfigError(f"api.api_keys[{i}]: a sha256 key needs 64 hex digits after 'sha256:'")
                keys.append(ApiKey(f"sha256:{digest[:8].lower()}", permissions, bytes.fromhex(digest)))
                continue
            name, sep, secret = raw.partition(":")
            if not sep:
                name, secret = f"key{i + 1}", raw
            if not name or not secret:
                raise ConfigError(f"api.api_keys[{i}]: expected 'name:secret' or 'sha256:<hex>', got an empty part")
            keys.append(ApiKey(name, permissions, hashlib.sha256(secret.encode("utf-8")).digest()))
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, presented: str) -> ApiKey | None:
        """Return the key whose secret is ``presented``, or None.

        Every stored digest is compared with ``hmac.compare_digest``, without stopping early, so
        the time taken does not depend on which key (if any) matched.
        """
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found
