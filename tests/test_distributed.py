"""``ragmed build --engine ray``: Ray Data on this machine's cores gives the index the local build gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import KNOWLEDGE, REPO

from ragmed.hashing import sha256_text

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: A small slice of the starter knowledge: the first ten files of MedQuAD's CDC answers.
CDC = KNOWLEDGE / "literature" / "medquad" / "9_CDC_QA"


@pytest.fixture(scope="module")
def starter_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slice") / "9_CDC_QA"
    folder.mkdir()
    for path in sorted(CDC.glob("*.xml"))[:10]:
        shutil.copy(path, folder / path.name)
    return folder


def build(source: Path, root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RAGMED_INDEX__ROOT": str(root), "HF_HUB_OFFLINE": "1", "COLUMNS": "250",
                   "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ragmed", "build", str(source), "--index", "slice", "--json", *args],
                          env=environment, capture_output=True, text=True, timeout=900)


def contents(root: Path) -> tuple[dict[str, str], list[tuple[str, int, str, int, int]], np.ndarray]:
    """Documents (id -> content hash), chunks (document, ordinal, text, span) and their vectors, in chunk order."""
    from ragmed.config import IndexSettings
    from ragmed.index.store import IndexStore

    store = IndexStore.open(root / "slice", None, None, IndexSettings(root=root))
    try:
        db = store.docstore._db
        documents = dict(db.execute("SELECT id, hash FROM documents").fetchall())
        rows = db.execute('SELECT doc_id, ordinal, text, start, "end", vector FROM chunks ORDER BY doc_id, ordinal')
        chunks, vectors = [], []
        for doc_id, ordinal, text, start, end, blob in rows:
            chunks.append((doc_id, ordinal, text, start, end))
            vectors.append(np.frombuffer(blob, dtype=np.float32))
        return documents, chunks, np.stack(vectors)
    finally:
        store.close()


def test_ray_build_gives_the_local_build_s_index(tmp_path: Path, starter_slice: Path) -> None:
    pytest.importorskip("ray", reason="the Ray test needs the extra ragmed[ray] (installed by ragmed[dev])")
    local = build(starter_slice, tmp_path / "local")
    assert local.returncode == 0, local.stderr[-3000:]
    ray = build(starter_slice, tmp_path / "ray", "--engine", "ray", env={"RAGMED_DISTRIBUTED__ACTORS": "1"})
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert json.loads(ray.stdout)["added"] == json.loads(local.stdout)["added"] > 0

    folder = tmp_path / "ray" / ".cache" / "shards" / "slice"
    listing = json.loads((folder / "shards.json").read_text())
    from_ray = {str(h) for shard in listing["shards"] for h in np.load(folder / f"{shard['name']}.hashes.npy")}
    local_docs, local_chunks, local_vectors = contents(tmp_path / "local")
    ray_docs, ray_chunks, ray_vectors = contents(tmp_path / "ray")
    assert ray_docs == local_docs
    assert ray_chunks == local_chunks
    assert from_ray == {sha256_text(text) for _, _, text, _, _ in local_chunks}  # every vector came from Ray
    assert np.allclose(ray_vectors, local_vectors, atol=1e-5)


def test_ray_engine_without_ray_names_the_extra(tmp_path: Path, starter_slice: Path) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "ray.py").write_text("raise ImportError('ray is not installed')\n")
    result = build(starter_slice, tmp_path, "--engine", "ray",
                   env={"PYTHONPATH": os.pathsep.join([str(hide), str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 1
    assert "pip install 'ragmed[ray]'" in " ".join(result.stderr.split())
    assert not (tmp_path / "slice").exists()


def test_unknown_engine_is_a_usage_error(tmp_path: Path, starter_slice: Path) -> None:
    result = build(starter_slice, tmp_path, "--engine", "spark")
    assert result.returncode == 2 and "--engine must be local or ray" in result.stderr
