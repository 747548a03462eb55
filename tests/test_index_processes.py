"""Several processes on one index: a long-lived engine (what `ragmed serve` holds) beside CLI writers.

Every test runs real processes on a real index: the engine in this process, `ragmed add` and
`ragmed delete` as subprocesses, and checks what a user of the running engine would notice (new
documents found, deleted ones gone), then that FAISS, BM25 and the docstore still agree when the
index is opened afresh with repairs turned off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import KNOWLEDGE, REPO, make_settings

from ragmed.build import build_index
from ragmed.engine import Engine
from ragmed.errors import IndexLockedError
from ragmed.index.store import IndexStore
from ragmed.types import Document

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _records(start: int, n: int) -> list[tuple[str, dict[str, Any]]]:
    records = json.loads((KNOWLEDGE / "literature" / "pubmedqa" / "pqal_public_500.json").read_text())
    return list(records.items())[start:start + n]


def _docs(start: int, n: int) -> list[Document]:
    return [Document(id=f"pmid:{pmid}", source="pubmedqa", title=r["QUESTION"], text=" ".join(r["CONTEXTS"]),
                     metadata={"question": r["QUESTION"]}) for pmid, r in _records(start, n)]


def _jsonl(path: Path, start: int, n: int) -> list[tuple[str, str]]:
    """Write PubMedQA records as JSONL for `ragmed add`; return ``(id, question)`` pairs."""
    rows = [{"id": f"cli:{pmid}", "title": r["QUESTION"], "text": " ".join(r["CONTEXTS"]), "source": "cli"}
            for pmid, r in _records(start, n)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return [(row["id"], row["title"]) for row in rows]


def _cli(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RAGMED_INDEX__ROOT": str(root), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "ragmed", *args], env=env, cwd=str(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return out


def _consistent(settings: Any) -> dict[str, int]:
    """Open the index afresh with repairs off (an inconsistency raises) and return its counts."""
    strict = settings.index.model_copy(update={"repair_on_open": False})
    store = IndexStore.open(settings.index.root / "t", None, None, strict)
    try:
        counts = store.info().counts
        assert counts.vectors == counts.chunks == counts.lexical
        return {"documents": counts.documents, "chunks": counts.chunks}
    finally:
        store.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    root = tmp_path_factory.mktemp("built")
    build_index(_docs(0, 30), make_settings(root), name="t", embedder=embedder)
    return root / "t"


@pytest.fixture()
def server(tmp_path: Path, built: Path) -> Any:
    """Settings and a long-lived engine over a copy of the built index, as `ragmed serve` holds one."""
    root = tmp_path / "indexes"
    shutil.copytree(built, root / "t")
    settings = make_settings(root, knowledge=str(KNOWLEDGE / "manifest.toml"))
    engine = Engine.open(settings, "t", build_if_missing=False)
    engine.search("warm up", k=3)
    yield settings, engine
    engine.close()


def _ids(engine: Engine, query: str, mode: str, k: int = 3) -> list[str]:
    return [p.doc_id for p in engine.search(query, k=k, mode=mode)]


def test_documents_a_cli_adds_are_found_by_a_running_engine_and_its_next_write_keeps_the_index_whole(server, tmp_path):
    settings, engine = server
    added = _jsonl(tmp_path / "new.jsonl", 300, 20)
    report = json.loads(_finish(_cli(settings.index.root, "add", str(tmp_path / "new.jsonl"), "--index", "t", "--json")))
    assert report["added"] == 20
    for doc_id, question in added:
        assert doc_id in _ids(engine, question, "dense"), question
        assert doc_id in _ids(engine, question, "bm25", k=5), question
    engine.add(_docs(400, 1))  # the running engine's own write, after the other process's
    counts = _consistent(settings)
    assert counts["documents"] == 30 + 20 + 1
    assert engine.info()["counts"]["vectors"] == counts["chunks"]


def test_documents_a_cli_deletes_are_gone_from_a_running_engine_and_its_next_write_keeps_the_index_whole(server):
    settings, engine = server
    targets = _docs(0, 4)
    for doc in targets:
        assert doc.id in _ids(engine, doc.metadata["question"], "dense")
    _finish(_cli(settings.index.root, "delete", *[d.id for d in targets[:3]], "--index", "t"))
    for doc in targets[:3]:
        for mode in ("dense", "bm25", "hybrid"):
            assert doc.id not in _ids(engine, doc.metadata["question"], mode, k=10)
    assert engine.delete([targets[3].id]) == 1
    assert _consistent(settings)["documents"] == 30 - 4


def test_two_cli_writers_at_once_both_land(server, tmp_path):
    settings, engine = server
    first = _jsonl(tmp_path / "a.jsonl", 300, 10)
    second = _jsonl(tmp_path / "b.jsonl", 310, 10)
    writers = [_cli(settings.index.root, "add", str(tmp_path / name), "--index", "t", "--json")
               for name in ("a.jsonl", "b.jsonl")]
    assert [json.loads(_finish(w))["added"] for w in writers] == [10, 10]
    for doc_id, question in first + second:
        assert doc_id in _ids(engine, question, "dense"), question
    assert _consistent(settings)["documents"] == 30 + 20


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ragmed.index.lock import WriterLock
    with WriterLock(Path(sys.argv[1]), 30).hold():
        print("held", flush=True)
        time.sleep(600)
""")


def test_a_writer_waits_for_another_process_names_it_and_takes_over_its_lock_once_it_is_killed(server):
    settings, engine = server
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.index.root / "t")], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        engine.store.lock.timeout_s = 0.5
        target = _docs(0, 1)[0]
        with pytest.raises(IndexLockedError, match=rf"pid {holder.pid} on host"):
            engine.delete([target.id])
        # searches never wait for the writer lock
        assert target.id in _ids(engine, target.metadata["question"], "hybrid")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert engine.delete([target.id]) == 1  # the dead process's lock is taken over
        assert engine.store.lock.holder()["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert _consistent(settings)["documents"] == 29
