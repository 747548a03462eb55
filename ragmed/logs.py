"""Structured logging: key=value or JSON lines, switchable by ``RAGMED_LOGGING__JSON_LOGS``; keyed hashes that
stand for personal text (questions, queries, ids) in logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sys

from ragmed.config import LoggingSettings, Settings
from ragmed.errors import ConfigError

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the record's named fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        data.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        return json.dumps(data, default=str)


class KeyValueFormatter(logging.Formatter):
    """``LEVEL logger: message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        return f"{record.levelname} {record.name}: {record.getMessage()}" + (f" {extra}" if extra else "")


def configure_logging(settings: LoggingSettings) -> None:
    """Install one stderr handler on the ``ragmed`` logger."""
    logger = logging.getLogger("ragmed")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.json_logs else KeyValueFormatter())
    logger.addHandler(handler)
    logger.setLevel(settings.level.upper())
    logger.propagate = False


class LogHasher:
    """Keyed hashes (HMAC-SHA256) that stand for questions, queries, paths and addresses in logs.

    The same text gives the same hash under one key, so log lines can be grouped and counted, but the text
    cannot be read back or guessed without the key.

    Args:
        key: the secret key (``logging.hash_key``, or the one ``load_hash_key`` keeps beside the indexes).

    Example:
        >>> LogHasher(b"k" * 32).fields("question", "What is gout?")["question_len"]
        13
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigError(f"logging.hash_key: must be at least 16 bytes, got {len(key)}")
        self._key = key

    def digest(self, text: str) -> str:
        """The first 128 bits of HMAC-SHA256(key, text), in hex."""
        data = text.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()[:32]

    def fields(self, name: str, text: str) -> dict[str, str | int]:
        """``{name}_hmac`` and ``{name}_len`` for a log record."""
        return {f"{name}_hmac": self.digest(text), f"{name}_len": len(text)}


def load_hash_key(settings: Settings) -> bytes:
    """The log hash key: ``logging.hash_key`` when set, else a random key generated once and kept in
    ``<index root>/.log-hash-key`` (mode 0600), so every worker of a deployment uses the same one.

    Raises:
        ConfigError: the key file cannot be read or written (the message names it and the setting to use).
    """
    if settings.logging.hash_key is not None:
        return settings.logging.hash_key.get_secret_value().encode("utf-8")
    path = settings.index.root / ".log-hash-key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text(encoding="ascii").strip()
        else:
            key = secrets.token_hex(32)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key + "\n")
    except OSError as exc:
        raise ConfigError(f"logging.hash_key: unset, and the key file {path} cannot be kept ({exc}); "
                          "set RAGMED_LOGGING__HASH_KEY to a secret of 16 characters or more") from exc
    if len(key) < 32:
        raise ConfigError(f"logging.hash_key: the key file {path} holds {len(key)} characters, expected 64 hex digits")
    return key.encode("ascii")
