"""SHA-256 hex digests, the one place ragmed hashes content: texts, byte strings, files and folders.

Keys that hash secrets (API keys in ``api/security.py``, the keyed HMAC of log fields in ``ragmed/logs.py``)
use ``hashlib`` and ``hmac`` directly: they need raw digests and constant-time comparison, not content ids.

Example:
    >>> sha256_text("gout")[:12]
    '8892b24be57f'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["sha256_bytes", "sha256_file", "sha256_text", "sha256_tree"]


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8; keys caches and detects changed documents and chunks."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it does not exist).
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(path: Path, keep: Callable[[Path], bool] | None = None) -> str:
    """Hex SHA-256 of a file, or of a folder as the sorted lines ``<relative path>\\t<file SHA-256>`` of its
    files (those ``keep`` accepts, all when None) joined by newlines.

    Raises:
        OSError: a file cannot be read.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and (keep is None or keep(p)))
    return sha256_text("\n".join(f"{p.relative_to(path).as_posix()}\t{sha256_file(p)}" for p in files))
