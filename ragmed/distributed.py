"""Distributed embedding with Ray Data: the sources read in parallel, chunked as the local build chunks them,
embedded by a pool of actors (one model copy each, on a GPU when Ray sees one), written as embedding shards.

The shards are plain NumPy files (no pickle): ``shard-00000.hashes.npy`` (content hashes of chunk texts) and
``shard-00000.vectors.npy`` (float32 rows), with ``shards.json`` naming the model, dimension, rows and SHA-256
of each file. The index builder consumes them through ``ShardEmbedder``: every chunk it would embed is looked
up by content hash, so the index holds exactly what the local build would (same documents, same chunks), with
vectors equal within float tolerance.

Example:
    >>> shards = embed_sources([(Path("knowledge/literature/medquad"), "medquad")], settings, folder)  # doctest: +SKIP
    >>> build_index(paths, settings, embedder=ShardEmbedder(shards, settings))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.chunking import chunk_document
from ragmed.config import ChunkingSettings, EmbeddingSettings, Settings
from ragmed.embedding import Embedder, cache_folder, make_embedder
from ragmed.embedding.base import EncodeProgress
from ragmed.errors import IndexCorruptError, ModelMismatchError, require
from ragmed.hashing import sha256_file, sha256_text

logger = logging.getLogger(__name__)

SHARDS = "shards.json"
#: ``(path, reader)``: a file or folder to read and the reader to force (None: decide from each file).
Source = tuple[Path, "str | None"]


@dataclass
class ShardFile:
    """One shard: its file stem, rows, and the SHA-256 of its two files."""

    name: str
    rows: int
    sha256: dict[str, str] = field(default_factory=dict)


@dataclass
class EmbeddingShards:
    """A folder of embedding shards and what made them."""

    folder: Path
    model_id: str
    dimension: int
    shards: list[ShardFile] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0

    def save(self) -> None:
        data = {**asdict(self), "folder": None}
        (self.folder / SHARDS).write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> EmbeddingShards:
        """Read ``shards.json`` and check every shard file against its checksum.

        Raises:
            IndexCorruptError: the listing or a shard file is missing or damaged (names the shard).
        """
        try:
            data = json.loads((folder / SHARDS).read_text(encoding="utf-8"))
            shards = cls(folder, data["model_id"], int(data["dimension"]),
                         [ShardFile(**s) for s in data["shards"]], int(data["passages"]), float(data["seconds"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{folder / SHARDS}: unreadable embedding shard listing: {exc}") from exc
        for shard in shards.shards:
            for part, expected in shard.sha256.items():
                path = folder / f"{shard.name}.{part}.npy"
                if not path.exists() or sha256_file(path) != expected:
                    raise IndexCorruptError(f"embedding shard {path} is missing or damaged (checksum mismatch)")
        return shards

    def vectors_by_hash(self) -> tuple[dict[str, int], np.ndarray]:
        """Every shard's rows as one matrix, with the row of each content hash."""
        rows: dict[str, int] = {}
        parts: list[np.ndarray] = []
        offset = 0
        for shard in self.shards:
            hashes = np.load(self.folder / f"{shard.name}.hashes.npy", allow_pickle=False)
            vectors = np.load(self.folder / f"{shard.name}.vectors.npy", allow_pickle=False)
            if vectors.shape != (len(hashes), self.dimension):
                raise IndexCorruptError(f"embedding shard {self.folder / shard.name}: {vectors.shape} vectors "
                                        f"for {len(hashes)} hashes of dimension {self.dimension}")
            rows.update({str(h): offset + i for i, h in enumerate(hashes)})
            parts.append(vectors)
            offset += len(hashes)
        return rows, (np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32))


class ShardEmbedder:
    """An ``Embedder`` that serves passage vectors from embedding shards, and anything else (queries, texts
    the shards lack, such as ontology concept cards) from the configured embedder, loaded on first need."""

    def __init__(self, shards: EmbeddingShards, settings: Settings) -> None:
        self.model_id, self.dimension = shards.model_id, shards.dimension
        self._rows, self._vectors = shards.vectors_by_hash()
        self._settings = settings
        self._fallback: Embedder | None = None
        self.served = 0
        self.embedded = 0

    def encode(self, texts: Sequence[str], progress: EncodeProgress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing = []
        for i, text in enumerate(texts):
            row = self._rows.get(sha256_text(text))
            if row is None:
                missing.append(i)
            else:
                out[i] = self._vectors[row]
        self.served += len(texts) - len(missing)
        if progress and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if missing:
            self.embedded += len(missing)
            out[missing] = self.fallback().encode([texts[i] for i in missing], progress=progress)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.fallback().encode_query(text)

    def fallback(self) -> Embedder:
        """The configured embedder (it must give the shards' model)."""
        if self._fallback is None:
            from ragmed.embedding import shared_embedder

            self._fallback = shared_embedder(self._settings)
            if (self._fallback.model_id, self._fallback.dimension) != (self.model_id, self.dimension):
                raise ModelMismatchError(
                    f"embedding shards hold {self.model_id!r} ({self.dimension}-d) vectors but the configured "
                    f"embedder gives {self._fallback.model_id!r} ({self._fallback.dimension}-d)")
        return self._fallback


def source_files(sources: Sequence[Source]) -> list[tuple[str, str, str | None]]:
    """``(file, root, reader)`` for every file the local build would read, in the order it reads them; the
    root is what the readers derive document ids from (the folder given, or the file's own folder)."""
    files: list[tuple[str, str, str | None]] = []
    for path, reader in sources:
        path = Path(path)
        if path.is_file():
            files.append((str(path), str(path.parent), reader))
        elif path.is_dir():
            suffixes = _suffixes(reader)
            files.extend((str(f), str(path), reader) for f in _walk(path) if f.name.lower().endswith(suffixes))
    return files


def _suffixes(reader: str | None) -> tuple[str, ...]:
    """The file name endings a folder walk takes for ``reader`` (every file when None), as ``read_path`` does."""
    from ragmed.sources import READERS

    if reader is None or reader not in READERS:
        return ("",)
    return tuple(READERS[reader]().suffixes)


def _walk(folder: Path) -> Iterator[Path]:
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        if item.is_dir():
            yield from _walk(item)
        elif item.is_file():
            yield item


class _ChunkFile:
    """Ray ``flat_map`` step: one source file -> one row per distinct chunk text (hash and text)."""

    def __init__(self, chunking: ChunkingSettings) -> None:
        self.chunking = chunking

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from ragmed.errors import IngestError
        from ragmed.sources import reader_for

        seen: dict[str, str] = {}
        try:
            reader = reader_for(row["file"], row["reader"], root=Path(row["root"]))
            for document in reader.read(Path(row["file"]), lambda error: None):
                if isinstance(document.text, str) and document.text.strip():
                    for chunk in chunk_document(document, self.chunking):
                        seen.setdefault(sha256_text(chunk.text), chunk.text)
        except IngestError:
            pass  # reported by the index builder, which reads every source again
        return [{"hash": key, "text": text} for key, text in seen.items()]


class _EmbedBatch:
    """Ray actor: one embedding model, batches of chunk texts -> vectors."""

    def __init__(self, settings: EmbeddingSettings, cache_dir: str) -> None:
        self.embedder = make_embedder(settings, Path(cache_dir))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {"hash": np.asarray(batch["hash"]).astype(str), "vector": self.embedder.encode(texts)}


def embed_sources(sources: Sequence[Source], settings: Settings, folder: Path,
                  progress: Callable[[str, int, int | None], None] | None = None) -> EmbeddingShards:
    """Embed every chunk of ``sources`` with Ray Data and write the shards into ``folder`` (replaced).

    Ray is joined at ``settings.distributed.address``, or started on this machine when it is None (and stopped
    again afterwards).

    Raises:
        MissingDependencyError: Ray is not installed (extra ``ray``).
    """
    ray = require("ray", "ray")
    require("ray.data", "ray")
    options = settings.distributed
    cache_dir = cache_folder(settings.embedding, settings.index.root)
    probe = _probe(settings.embedding, cache_dir)
    started = not ray.is_initialized()
    if started:
        _start(ray, options.address)
    begin = time.perf_counter()
    try:
        files = source_files(sources)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        actors = options.actors or gpus or max(1, int(ray.cluster_resources().get("CPU", 1)) // 2)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        items = [{"file": f, "root": r, "reader": fmt} for f, r, fmt in files]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        dataset = dataset.flat_map(_ChunkFile, fn_constructor_kwargs={"chunking": settings.chunking},
                                   concurrency=max(1, actors))
        dataset = dataset.map_batches(
            _EmbedBatch, fn_constructor_kwargs={"settings": settings.embedding, "cache_dir": str(cache_dir)},
            batch_size=options.batch_size, concurrency=actors, batch_format="numpy",
            **({"num_gpus": 1} if gpus else {"num_cpus": options.cpus_per_actor}))
        shards = _write(dataset, folder, probe, options.shard_rows, progress)
    finally:
        if started:
            ray.shutdown()
    shards.seconds = round(time.perf_counter() - begin, 2)
    shards.save()
    logger.info("embedding shards written", extra={"folder": str(folder), "passages": shards.passages,
                                                   "seconds": shards.seconds, "actors": actors})
    return shards


def _probe(settings: EmbeddingSettings, cache_dir: Path) -> tuple[str, int]:
    """The model id and dimension the actors will give; exports the ONNX model once, before the actors start."""
    from ragmed.embedding.base import model_name

    if settings.backend == "onnx":
        from ragmed.embedding.onnx_export import ensure_export

        export = ensure_export(settings, cache_dir)
        return model_name(settings.model) + ("+int8" if settings.quantize else ""), export.dimension
    embedder = make_embedder(settings, cache_dir)
    return embedder.model_id, embedder.dimension


def _start(ray: Any, address: str | None) -> None:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if address is None:  # workers on this machine import this very copy of ragmed
        here = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": env})


def _write(dataset: Any, folder: Path, probe: tuple[str, int], shard_rows: int,
           progress: Callable[[str, int, int | None], None] | None) -> EmbeddingShards:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shards = EmbeddingShards(folder, probe[0], probe[1])
    for batch in dataset.iter_batches(batch_size=shard_rows, batch_format="numpy"):
        name = f"shard-{len(shards.shards):05d}"
        hashes = np.asarray(batch["hash"]).astype("U64")
        vectors = np.ascontiguousarray(np.stack(list(batch["vector"])) if batch["vector"].dtype == object
                                       else batch["vector"], dtype=np.float32)
        np.save(folder / f"{name}.hashes.npy", hashes, allow_pickle=False)
        np.save(folder / f"{name}.vectors.npy", vectors, allow_pickle=False)
        shards.shards.append(ShardFile(name, len(hashes), {part: sha256_file(folder / f"{name}.{part}.npy")
                                                           for part in ("hashes", "vectors")}))
        shards.passages += len(hashes)
        if progress:
            progress("ray", len(hashes), None)
    return shards


