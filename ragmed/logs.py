"""Structured logging: key=value or JSON lines, switchable by ``RAGMED_LOGGING__JSON_LOGS``."""

from __future__ import annotations

import json
import logging
import sys

from ragmed.config import LoggingSettings

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
