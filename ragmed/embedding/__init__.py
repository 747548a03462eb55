"""The embedding stage: one ``Embedder`` interface, one module per backend, a factory chosen by settings.

- ``base``: the ``Embedder`` Protocol, length-sorted batching, the query LRU and batcher.
- ``sbert``: sentence-transformers on PyTorch (CPU or CUDA; tokenises the next batch while the model runs).
- ``onnxrt``: ONNX Runtime on a locally exported model, fp32 or int8 (``onnx_export`` makes and caches it).
- ``cache``: the SQLite cache of passage vectors by content hash.
- ``factory``: ``make_embedder(settings)`` and the per-process ``shared_embedder``.

Example:
    >>> from ragmed.config import EmbeddingSettings
    >>> embedder = make_embedder(EmbeddingSettings(backend="onnx", quantize=True))  # doctest: +SKIP
    >>> embedder.encode(["chest pain", "shortness of breath"]).shape  # doctest: +SKIP
    (2, 384)
"""

from ragmed.embedding.base import DEFAULT_MODEL, Embedder, QueryBatcher, length_sorted_batches, resolve_model_path
from ragmed.embedding.cache import EmbeddingCache, embed_with_cache
from ragmed.embedding.factory import cache_folder, make_embedder, shared_embedder

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbeddingCache", "QueryBatcher", "cache_folder", "embed_with_cache",
           "length_sorted_batches", "make_embedder", "resolve_model_path", "shared_embedder"]
