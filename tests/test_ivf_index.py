"""The IVF-PQ backend: recall against exact search on real embeddings, consistency through the store, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import KNOWLEDGE, make_settings
from index_contracts import DIM, unit_vectors

from ragmed.config import IndexSettings
from ragmed.errors import IndexCorruptError, IndexNotTrainedError
from ragmed.index.factory import ivfpq_options, load_vector_index, make_vector_index
from ragmed.index.ivf import IVFPQIndex, chooses_gpu
from ragmed.types import Document

pytestmark = pytest.mark.integration
PUBMEDQA = KNOWLEDGE / "literature" / "pubmedqa" / "pqal_public_500.json"


def _settings(**ivfpq: Any) -> IndexSettings:
    return IndexSettings(root=Path("."), vector_backend="ivfpq", use_gpu=False, nprobe=4,
                         ivfpq={"nlist": 8, "m": 8, "nbits": 4, "k_factor": 8, **ivfpq})


@pytest.fixture(scope="module")
def real(embedder):  # type: ignore[no-untyped-def]
    """MiniLM embeddings of 240 PubMedQA abstract paragraphs (first 40 words) and of 60 questions."""
    records = list(json.loads(PUBMEDQA.read_text()).values())
    paragraphs = [" ".join(c.split()[:40]) for r in records for c in r["CONTEXTS"]][:240]
    questions = [r["QUESTION"] for r in records[:60]]
    return embedder.encode(paragraphs), embedder.encode(questions)


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True)]))


def test_recall_at_10_on_real_embeddings_is_near_exact_and_refinement_is_what_gets_it_there(real) -> None:
    passages, questions = real
    ids = np.arange(len(passages), dtype=np.int64) * 7 + 3
    exact = ids[np.argsort(-(questions @ passages.T), axis=1)[:, :10]]
    refined = make_vector_index(_settings(m=48, nbits=6, k_factor=10), 384).apply(ids, passages, []).compact()
    unrefined = make_vector_index(_settings(m=48, nbits=6, k_factor=1), 384).apply(ids, passages, []).compact()
    scores, found = refined.search(questions, 10)
    assert _recall(found, exact) >= 0.9
    assert _recall(unrefined.search(questions, 10)[1], exact) < _recall(found, exact)
    # refined scores are the exact inner products, not PQ estimates
    rows = (found[0] - 3) // 7
    assert np.allclose(scores[0], passages[rows] @ questions[0], atol=1e-5)


def test_search_before_training_is_a_clear_error_and_an_empty_index_finds_nothing() -> None:
    empty = make_vector_index(_settings(), DIM)
    assert (empty.search(unit_vectors(1), 5)[1] == -1).all()
    few = empty.apply(np.arange(10), unit_vectors(10), [])
    with pytest.raises(IndexNotTrainedError, match=r"holds 10 vectors but is not trained.*at least 16"):
        few.search(unit_vectors(1), 5)
    trained = few.apply(np.arange(10, 40), unit_vectors(30, seed=2), []).compact()
    assert trained.is_trained and trained.search(unit_vectors(1), 1)[1][0][0] == 0


def test_built_in_batches_with_on_disk_lists_it_answers_like_the_in_memory_build(tmp_path: Path) -> None:
    vectors = unit_vectors(3000, seed=3)
    ids = np.arange(3000, dtype=np.int64) * 2 + 1
    batches = [(ids[s:s + 500], vectors[s:s + 500]) for s in range(0, 3000, 500)]
    memory, _ = IVFPQIndex.build(tmp_path, "dense-a", DIM, ivfpq_options(_settings()), vectors[:1000], batches)
    disk, files = IVFPQIndex.build(tmp_path, "dense-b", DIM, ivfpq_options(_settings(on_disk=True)), vectors[:1000],
                                   batches)
    assert files == ["dense-b.faiss", "dense-b.ivfdata", "dense-b.vectors.npy", "dense-b.ids.npy"]
    assert np.array_equal(disk.ids(), ids) and len(disk) == 3000
    assert np.array_equal(disk.search(vectors[:50], 10)[1], memory.search(vectors[:50], 10)[1])
    assert np.mean(disk.search(vectors[::10], 1)[1][:, 0] == ids[::10]) >= 0.95
    reloaded = load_vector_index(_settings(on_disk=True), tmp_path, files, backend="ivfpq")
    assert np.array_equal(reloaded.search(vectors[:50], 10)[1], disk.search(vectors[:50], 10)[1])


@pytest.mark.parametrize("suffix", [".faiss", ".vectors.npy", ".ids.npy", ".ivfdata"])
def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path, suffix: str) -> None:
    index = make_vector_index(_settings(on_disk=True), DIM).apply(np.arange(400), unit_vectors(400), [])
    files = index.save(tmp_path, "dense-000001")
    damaged = tmp_path / f"dense-000001{suffix}"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(IndexCorruptError, match=damaged.name):
        load_vector_index(_settings(on_disk=True), tmp_path, files, backend="ivfpq")
    damaged.unlink()
    with pytest.raises(IndexCorruptError, match=f"{damaged.name} is missing"):
        load_vector_index(_settings(on_disk=True), tmp_path, files, backend="ivfpq")


def test_the_gpu_is_used_only_when_faiss_sees_one() -> None:
    import faiss

    settings = _settings().model_copy(update={"use_gpu": True})
    index = make_vector_index(settings, DIM).apply(np.arange(100), unit_vectors(100), []).compact()
    assert chooses_gpu(ivfpq_options(settings)) is (faiss.get_num_gpus() > 0)
    assert index.use_gpu is (faiss.get_num_gpus() > 0)
    assert index.search(unit_vectors(100)[7], 1)[1][0][0] == 7


def _docs(start: int, n: int) -> list[Document]:
    records = list(json.loads(PUBMEDQA.read_text()).items())[start:start + n]
    return [Document(id=f"pmid:{pmid}", source="pubmedqa", title=r["QUESTION"], text=" ".join(r["CONTEXTS"]),
                     metadata={"question": r["QUESTION"]}) for pmid, r in records]


def test_updates_and_deletes_stay_consistent_across_faiss_bm25_and_the_docstore(tmp_path, embedder) -> None:
    from ragmed.build import build_index
    from ragmed.engine import Engine

    settings = make_settings(tmp_path, index={"vector_backend": "ivfpq", "use_gpu": False, "nprobe": 8,
                                              "ivfpq": {"nlist": 8, "m": 48, "nbits": 4}})
    docs = _docs(0, 30)
    build_index(docs, settings, name="t", embedder=embedder)
    engine = Engine.open(settings, "t", build_if_missing=False)
    gone, changed = docs[3], Document(id=docs[0].id, source="pubmedqa", title="Zebrafish fin regeneration",
                                      text="Zebrafish regenerate their caudal fins within two weeks after amputation.")
    assert gone.id in [p.doc_id for p in engine.search(gone.metadata["question"], k=3, mode="dense")]
    assert engine.delete([gone.id]) == 1
    assert engine.add([changed]).updated == 1

    def check(eng: Any) -> None:
        for mode in ("dense", "bm25", "hybrid"):
            assert gone.id not in [p.doc_id for p in eng.search(gone.metadata["question"], k=10, mode=mode)]
            top = eng.search("zebrafish fin regeneration", k=1, mode=mode)[0]
            assert top.doc_id == changed.id and "Zebrafish" in top.text
        info = eng.info()
        assert info["counts"]["documents"] == 29 and info["counts"]["vectors"] == info["counts"]["chunks"]
        assert info["factory"] == "IVF8,PQ48x4"
        snapshot = eng.store.current()
        _, stored = eng.store.docstore.live_ids()
        assert np.array_equal(snapshot.dense.ids(), stored) and np.array_equal(snapshot.lexical.ids(), stored)

    check(engine)
    engine.store.flush()  # fold the changes into new IVF-PQ base files
    check(engine)
    engine.close()
    reopened = Engine.open(settings, "t", build_if_missing=False)
    check(reopened)
    assert any(p.name.endswith(".vectors.npy") for p in (tmp_path / "t").iterdir())
    reopened.close()
