"""The index manifest: format version, embedding model, factory, counts, revision and checksums."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ragmed.errors import IndexCorruptError
from ragmed.hashing import sha256_file
from ragmed.index.atomic import atomic_write_bytes

FORMAT_VERSION = 3
"""1: one FAISS file and a bm25s folder rewritten on every change; 2: base files plus the docstore's change log;
3: the BM25 base as memory-mappable ``.npy`` files instead of one ``.npz``."""
OLDEST_IN_PLACE = 2
"""The oldest format opened as it is (its base files are rewritten in the current format at the next merge);
an older index is rebuilt from its docstore."""
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    """What an index folder holds: its model and the base files of ``revision`` (written atomically when they change).

    Changes committed after ``revision`` live in the docstore's change log until the next merge writes new
    base files.
    """

    name: str
    embedding_model: str
    dimension: int
    factory: str
    revision: int = 0
    format_version: int = FORMAT_VERSION
    counts: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    lexical_version: int = 0
    checksums: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _now())
    updated: str = field(default_factory=lambda: _now())
    ragmed_version: str = ""

    def save(self, folder: Path) -> None:
        self.updated = _now()
        atomic_write_bytes(folder / MANIFEST, json.dumps(asdict(self), indent=2, sort_keys=True).encode())

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """Read and validate ``folder/manifest.json``.

        Raises:
            IndexCorruptError: the manifest is missing, not JSON, or from an unknown format version.
        """
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"index {folder} has no {MANIFEST}") from exc
        except (ValueError, TypeError) as exc:
            raise IndexCorruptError(f"damaged manifest {path}: {exc}") from exc
        if manifest.format_version > FORMAT_VERSION:
            raise IndexCorruptError(
                f"{path} has format version {manifest.format_version}; this ragmed reads up to {FORMAT_VERSION}")
        return manifest

    def verify(self, folder: Path) -> None:
        """Check every recorded file against its checksum.

        Raises:
            IndexCorruptError: a file is missing or its bytes changed.
        """
        for relative, expected in self.checksums.items():
            path = folder / relative
            if not path.exists():
                raise IndexCorruptError(f"index file {path} is missing")
            if sha256_file(path) != expected:
                raise IndexCorruptError(
                    f"index file {path} is damaged (checksum mismatch); run `ragmed repair {self.name}` "
                    "to rebuild it from the docstore")


def checksums(folder: Path, relatives: list[str]) -> dict[str, str]:
    """Checksums of the given files, and of every file inside the given folders."""
    out: dict[str, str] = {}
    for relative in relatives:
        path = folder / relative
        if path.is_dir():
            for child in sorted(path.iterdir()):
                out[f"{relative}/{child.name}"] = sha256_file(child)
        elif path.exists():
            out[relative] = sha256_file(path)
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
