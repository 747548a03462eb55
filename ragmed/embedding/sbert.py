"""The sentence-transformers backend (PyTorch): CUDA when torch sees a GPU, the next batch tokenised in a
second thread while the model runs the current one, so that a GPU is not left waiting for the tokeniser."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from ragmed.config import EmbeddingSettings
from ragmed.embedding.base import EncodeProgress, QueryCache, length_sorted_batches, model_name, resolve_model_path
from ragmed.errors import ConfigError


class SentenceTransformerEmbedder:
    """sentence-transformers backend: batches sorted by length, normalised vectors, an LRU of queries.

    Example:
        >>> embedder = SentenceTransformerEmbedder(EmbeddingSettings())
        >>> embedder.encode(["chest pain"]).shape
        (1, 384)
    """

    def __init__(self, settings: EmbeddingSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        self.settings = settings
        device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = SentenceTransformer(resolve_model_path(settings.model), device=device, local_files_only=True)
        self._model.eval()
        self.device = device
        self.model_id = model_name(settings.model)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ConfigError(f"embedding model {settings.model!r} does not declare its output dimension")
        self.dimension = int(dimension)
        self._lock = threading.Lock()
        self._queries = QueryCache(self.encode, settings.query_cache_size, settings.batch_size)

    def encode(self, texts: Sequence[str], progress: EncodeProgress | None = None) -> np.ndarray:
        """Encode ``texts`` in length-sorted batches; with ``settings.prefetch`` the next batch is tokenised
        while the model runs this one."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches = list(length_sorted_batches(texts, self.settings.batch_size))
        small = len(texts) <= 16
        with self._lock, _threads(self.settings.small_batch_threads if small else 0), \
                ThreadPoolExecutor(1, thread_name_prefix="ragmed-tokenise") as pool:

            def tokenise(batch: list[int]) -> dict[str, Any]:
                return self._features([texts[i] for i in batch])

            ahead = pool.submit(tokenise, batches[0]) if batches and self.settings.prefetch and not small else None
            for n, batch in enumerate(batches):
                features = ahead.result() if ahead is not None else tokenise(batch)
                following = batches[n + 1] if n + 1 < len(batches) else None
                ahead = pool.submit(tokenise, following) if following and self.settings.prefetch and not small else None
                out[batch] = self._forward(features)
                if progress:
                    progress(len(batch))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query; repeated queries come from an LRU, concurrent ones are batched together."""
        return self._queries.get(text)

    def _features(self, texts: list[str]) -> dict[str, Any]:
        """Tokenised ``texts`` on the model's device (the fast tokeniser releases the GIL while it works)."""
        from sentence_transformers.util import batch_to_device

        features = self._model.preprocess(texts) if hasattr(self._model, "preprocess") else self._model.tokenize(texts)
        return dict(batch_to_device(features, self._model.device))

    def _forward(self, features: dict[str, Any]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = self._model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), p=2, dim=1)
            return np.asarray(vectors.cpu().numpy(), dtype=np.float32)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` CPU threads inside the block (0 leaves the setting alone)."""
    if not count:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
