"""The exceptions ragmed raises.

Every error derives from ``RagmedError``::

    RagmedError
    ├── ConfigError          invalid settings or an unusable option value
    ├── InvalidRequestError  a request that cannot be served as asked (empty question, bad k)
    ├── IngestError          a source file or record that cannot be read (names file and record)
    ├── IndexError_          index storage problems
    │   ├── IndexNotFoundError    the named index does not exist (lists the ones that do)
    │   ├── IndexCorruptError     a damaged or inconsistent index file
    │   ├── IndexLockedError      another process is writing to the index (names it)
    │   ├── IndexNotTrainedError  an IVF index asked to search before its quantiser was trained
    │   └── ModelMismatchError    the index was built with another embedding model
    ├── RetrievalError       a search that cannot be run as asked (bad filter, bad mode)
    ├── GenerationError      a generator backend failed or is unavailable
    ├── MissingDependencyError  an optional extra (or a dependency) is not installed; also an ImportError
    ├── RequestCancelledError  the caller cancelled the work (a client went away, a deadline passed)
    └── OntologyError        a malformed ontology file or record (names file and line)
"""

from __future__ import annotations

from typing import Any


class RagmedError(Exception):
    """Root of all ragmed errors."""


class ConfigError(RagmedError):
    """Settings or options that cannot be used."""


class InvalidRequestError(RagmedError):
    """A request that cannot be served as asked: an empty question, a bad option value."""


class IngestError(RagmedError):
    """A source that cannot be read; the message names the file and the record."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class IndexError_(RagmedError):
    """Index storage problems (named with a trailing underscore to keep the builtin usable)."""


class IndexNotFoundError(IndexError_):
    """The named index does not exist."""


class IndexCorruptError(IndexError_):
    """An index file is damaged or inconsistent with its manifest."""


class IndexLockedError(IndexError_):
    """Another process held the index's writer lock for longer than the write was willing to wait."""


class IndexNotTrainedError(IndexError_):
    """An IVF index holding vectors was asked to search before its quantiser was trained."""


class ModelMismatchError(IndexError_):
    """The index was built with another embedding model or dimension."""


class RetrievalError(RagmedError):
    """A search that cannot be run as asked."""


class GenerationError(RagmedError):
    """A generator backend failed, timed out or is unavailable."""


class MissingDependencyError(RagmedError, ImportError):
    """A dependency is missing; the message names the extra to install (or ragmed itself for a core one)."""


#: The optional extras ``pyproject.toml`` declares that ``require`` may name (``dev`` is for contributors).
EXTRAS = ("gpu", "llm", "langchain", "redis", "onnx", "ray", "eval", "bench")


class RequestCancelledError(RagmedError):
    """The caller cancelled the request (its client went away or its deadline passed); the work stopped."""


class OntologyError(RagmedError):
    """A malformed ontology file or record; the message names the file and line."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


def installed(*modules: str) -> bool:
    """Whether every one of ``modules`` can be imported (without importing it)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in modules)


def require(module: str, extra: str | None = None) -> Any:
    """Import ``module`` or raise ``MissingDependencyError`` naming what to install.

    Args:
        module: the module to import.
        extra: the optional extra (one of ``EXTRAS``; ``tests/test_packaging.py`` checks every call names one)
            that installs it; None for a core dependency, whose absence means a broken install of ragmed itself.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f"pip install 'ragmed[{extra}]'" if extra else "pip install --force-reinstall ragmed"
        raise MissingDependencyError(f"{module} is not available - install it with: {hint}") from exc
