"""Embeddings (kept for imports that name ``ragmed.embed``): everything lives in ``ragmed.embedding``."""

from ragmed.embedding import (
    DEFAULT_MODEL,
    Embedder,
    EmbeddingCache,
    QueryBatcher,
    embed_with_cache,
    make_embedder,
    resolve_model_path,
    shared_embedder,
)
from ragmed.embedding.sbert import SentenceTransformerEmbedder

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbeddingCache", "QueryBatcher", "SentenceTransformerEmbedder",
           "embed_with_cache", "make_embedder", "resolve_model_path", "shared_embedder"]
