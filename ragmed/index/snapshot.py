"""Typed values of the index stage: a snapshot of the indexes, what a commit did, what an index holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ragmed.index.protocols import LexicalIndex, VectorIndex


@dataclass(frozen=True)
class Snapshot:
    """The vector and lexical indexes as of one committed revision (never changed once made)."""

    revision: int
    dense: VectorIndex
    lexical: LexicalIndex

    @property
    def pending(self) -> int:
        return max(self.dense.pending, self.lexical.pending)

    def compacted(self) -> Snapshot:
        return Snapshot(self.revision, self.dense.compact(), self.lexical.compact())


@dataclass(frozen=True)
class CommitResult:
    """What one commit did."""

    written: int
    deleted: int
    revision: int


@dataclass(frozen=True)
class IndexCounts:
    documents: int
    chunks: int
    vectors: int
    lexical: int


@dataclass(frozen=True)
class IndexInfo:
    """What ``IndexStore.info`` reports about one index."""

    name: str
    path: str
    revision: int
    base_revision: int
    pending_changes: int
    format_version: int
    embedding_model: str
    dimension: int
    factory: str
    vector_backend: str
    lexical_backend: str
    counts: IndexCounts
    sources: dict[str, int]
    gpu: bool
    updated: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
