"""The reader interface: one reader per source format, each yielding ``Document`` objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from ragmed.types import Document, RecordError

OnError = Callable[[RecordError], None]


@runtime_checkable
class Reader(Protocol):
    """Reads one source format.

    ``read`` yields every good record of ``path`` as a ``Document``. A bad record is reported
    through ``on_error`` (naming the file and the record: line, PMID or id) and skipped, so the
    rest of the file still goes in. A file that cannot be opened or parsed at all raises
    ``IngestError`` naming the file.
    """

    name: str
    suffixes: tuple[str, ...]

    def read(self, path: Path, on_error: OnError) -> Iterator[Document]:
        ...
