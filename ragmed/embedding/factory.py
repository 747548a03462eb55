"""Choose the embedding backend from settings, and keep one loaded embedder per configuration per process."""

from __future__ import annotations

import threading
from pathlib import Path

from ragmed.config import EmbeddingSettings, Settings, default_index_root
from ragmed.embedding.base import Embedder

_EMBEDDERS: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def cache_folder(settings: EmbeddingSettings, index_root: Path | None = None) -> Path:
    """Where vectors and exported models are cached: ``settings.cache_dir``, else ``<index root>/.cache``."""
    return Path(settings.cache_dir or (index_root or default_index_root()) / ".cache")


def make_embedder(settings: EmbeddingSettings, cache_dir: Path | None = None) -> Embedder:
    """Build the embedder ``settings.backend`` names.

    Args:
        settings: the embedding section (backend, model, device, batch size, quantisation).
        cache_dir: folder for exported ONNX models; ``settings.cache_dir`` or ``<default index root>/.cache``
            when None.

    Raises:
        ConfigError: the model cannot be found.
        MissingDependencyError: the backend's extra is not installed.
    """
    if settings.backend == "onnx":
        from ragmed.embedding.onnxrt import OnnxEmbedder

        return OnnxEmbedder(settings, cache_dir or cache_folder(settings))
    from ragmed.embedding.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings)


def shared_embedder(settings: Settings) -> Embedder:
    """One embedder per embedding configuration per process: loading a model costs seconds."""
    key = settings.embedding.model_dump_json(exclude={"query_cache_size"})
    with _LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = make_embedder(settings.embedding, cache_folder(settings.embedding, settings.index.root))
        return _EMBEDDERS[key]
