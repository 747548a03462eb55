"""Embeddings: normalised vectors, the content-hash cache, and batched query encoding."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ragmed.embedding import EmbeddingCache, QueryBatcher, embed_with_cache

pytestmark = pytest.mark.integration


def test_vectors_are_normalised_and_order_is_kept(embedder):
    texts = ["short", "a much longer sentence about insulin resistance in adults with obesity", "asthma"]
    vectors = embedder.encode(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.allclose(vectors, one_by_one, atol=1e-5)


def test_cache_embeds_only_new_texts(tmp_path, embedder):
    cache = EmbeddingCache(tmp_path / "cache.sqlite", embedder.model_id, embedder.dimension)
    first, fresh = embed_with_cache(embedder, ["asthma", "gout"], cache)
    assert fresh == 2
    again, fresh = embed_with_cache(embedder, ["gout", "asthma", "lupus"], cache)
    assert fresh == 1
    assert np.allclose(again[0], first[1]) and np.allclose(again[1], first[0])
    other_model = EmbeddingCache(tmp_path / "cache.sqlite", "another-model", embedder.dimension)
    assert other_model.get_many([]) == {} and len(other_model.get_many(
        [__import__("ragmed.hashing", fromlist=["sha256_text"]).sha256_text("gout")])) == 0


@pytest.mark.unit
def test_query_batcher_serves_concurrent_callers_in_shared_batches():
    batches: list[int] = []

    def encode(texts):  # type: ignore[no-untyped-def]
        batches.append(len(texts))
        threading.Event().wait(0.05)
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    batcher = QueryBatcher(encode, max_batch=16)
    results: dict[str, float] = {}

    def call(text: str) -> None:
        results[text] = float(batcher.submit(text)[0])

    threads = [threading.Thread(target=call, args=("q" * (i + 1),)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"q" * (i + 1): float(i + 1) for i in range(12)}
    assert sum(batches) == 12 and len(batches) < 12
