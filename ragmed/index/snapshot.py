"""Typed values of the index stage: a snapshot of the indexes, what a commit did, what an index holds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ragmed.index.protocols import LexicalIndex, VectorIndex
from ragmed.types import SkippedShard


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


@dataclass(frozen=True)
class ShardSetInfo:
    """What ``ShardSet.info`` reports: the serving shards as one index, each of them, and the shards left out."""

    name: str
    revision: int
    embedding_model: str
    dimension: int
    factory: str
    counts: IndexCounts
    sources: dict[str, int]
    shards: list[IndexInfo]
    skipped_shards: list[SkippedShard]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
