"""ragmed: offline-first retrieval-augmented medical question answering with checked citations.

Example:
    >>> from ragmed import Engine
    >>> answer = Engine.open().ask("What are the symptoms of type 2 diabetes?")
"""

from __future__ import annotations

from typing import Any

from ragmed.config import Settings, load_settings
from ragmed.errors import RagmedError
from ragmed.types import Answer, Chunk, Citation, Concept, Document, IngestReport, Passage, SafetyFlag
from ragmed.version import ragmed_version

__version__ = ragmed_version()

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Concept",
    "Document",
    "Engine",
    "Filters",
    "IngestReport",
    "Passage",
    "RagmedError",
    "SafetyFlag",
    "Settings",
    "__version__",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in ("Engine", "Filters"):
        from ragmed import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'ragmed' has no attribute {name!r}")
