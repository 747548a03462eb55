"""Write costs and search latency under writes, on the starter index and on a synthetic 100k-chunk index.

For each index, in one run:
- one-document add, p50 and p95, split into embedding and commit (the synthetic index has no
  embedding: its vectors are drawn at random);
- DELETE of an id that does not exist: p50, p99 and max, and how many files changed (must be 0);
- search p50/p99 read-only, then during a write soak: another process (as a CLI or editor would)
  adds, updates and deletes documents for ``--soak`` seconds while this one keeps searching.

The starter index is copied first (``indexes/starter``, built with ``ragmed build`` when missing), so
the bench never changes it. Starter searches are hybrid ``Engine.search`` calls over the PubMedQA
questions (query vectors cached after the warm-up, so the figures are the index's, not the
embedder's); synthetic searches are a dense plus a BM25 search at depth 50. Other work on the
machine shows in every figure: compare read-only and soak figures of the same run.

Usage:
    python bench/writes.py [--soak 120] [--read 30] [--chunks 100000] [--adds 30] [--skip-starter] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragmed.config import IndexSettings, load_settings  # noqa: E402
from ragmed.index.store import IndexStore  # noqa: E402
from ragmed.types import Chunk, Document  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:.1f} ms, p95 {pct(values, 95) * 1000:.1f} ms, p99 {pct(values, 99) * 1000:.1f} ms"


def files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def delete_missing(delete: Callable[[list[str]], int], folder: Path, n: int = 200) -> dict[str, Any]:
    before = files(folder)
    times = []
    for i in range(n):
        started = time.perf_counter()
        assert delete([f"bench:missing:{i}"]) == 0
        times.append(time.perf_counter() - started)
    changed = sum(1 for name, stat in files(folder).items() if before.get(name) != stat)
    return {"p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000, "max_ms": max(times) * 1000,
            "files_changed": changed}


def searching(search: Callable[[int], object], seconds: float) -> list[float]:
    times, n, end = [], 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        search(n)
        times.append(time.perf_counter() - started)
        n += 1
    return times


def soak(root: Path, name: str, seconds: float, interval: float, search: Callable[[int], object]) -> dict[str, Any]:
    writer = subprocess.Popen([sys.executable, __file__, "--writer", str(root), name, str(seconds), str(interval)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    writer.stdout.readline()  # "ready"
    times = searching(search, seconds)
    out, _ = writer.communicate(timeout=seconds + 600)
    return {"search": times, "writer": json.loads(out.strip().splitlines()[-1])}


def report(title: str, read: list[float], soaked: dict[str, Any]) -> dict[str, Any]:
    during = soaked["search"]
    ratio = pct(during, 99) / pct(read, 99)
    print(f"  search read-only: {len(read)} searches, {ms(read)}")
    print(f"  search during the write soak: {len(during)} searches, {ms(during)}; writer: {soaked['writer']}")
    print(f"  soak p99 / read-only p99 = {ratio:.2f} (target <= 2)")
    return {"read_only": {"p50_ms": pct(read, 50) * 1000, "p99_ms": pct(read, 99) * 1000},
            "soak": {"p50_ms": pct(during, 50) * 1000, "p99_ms": pct(during, 99) * 1000, **soaked["writer"]},
            "p99_ratio": ratio}


# -- the writer process of the soak --------------------------------------------------------
def writer(root: Path, name: str, seconds: float, interval: float) -> None:
    """Add, update and delete documents in ``root/name`` for ``seconds``, one commit every ``interval``."""
    rng = random.Random(1)
    store = IndexStore.open(root / name, None, None, IndexSettings(root=root, use_gpu=False))
    pool = store.docstore.vectors(list(store.docstore.chunk_ids()[:: max(1, len(store.docstore.chunk_ids()) // 2000)]))
    vectors = np.stack(list(pool.values()))
    words = " ".join(p.text for p in store.docstore.passages(list(pool)[:300]).values()).split()
    live: list[str] = []
    times: list[float] = []
    print("ready", flush=True)
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
        action = rng.choices(["add", "update", "delete"], weights=[5, 3, 2])[0] if live else "add"
        started = time.perf_counter()
        if action == "delete":
            store.commit(deletes=[live.pop(rng.randrange(len(live)))])
        else:
            doc_id = f"soak:{n}" if action == "add" else rng.choice(live)
            text = " ".join(rng.choices(words, k=rng.randint(40, 120)))
            vector = vectors[rng.randrange(len(vectors))] + rng.gauss(0, 0.05)
            chunk = Chunk(doc_id=doc_id, ordinal=0, text=text, start=0, end=len(text))
            document = Document(id=doc_id, source="soak", title=f"Soak {n}", text=text)
            store.commit(upserts=[(document, [chunk], (vector / np.linalg.norm(vector))[None, :].astype(np.float32))])
            if action == "add":
                live.append(doc_id)
        times.append(time.perf_counter() - started)
        time.sleep(interval)
    store.close()
    print(json.dumps({"writes": len(times), "commit_p50_ms": round(pct(times, 50) * 1000, 1),
                      "commit_p99_ms": round(pct(times, 99) * 1000, 1)}))


# -- the starter index -------------------------------------------------------------------------
def starter(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from ragmed.build import build_knowledge, open_cache
    from ragmed.chunking import chunk_document
    from ragmed.embedding import embed_with_cache, shared_embedder
    from ragmed.engine import Engine

    settings = load_settings()
    source = settings.index.root / args.starter
    if not (source / "manifest.json").exists():
        print(f"building {source} (ragmed build) ...", flush=True)
        build_knowledge(settings, name=args.starter)
    shutil.copytree(source, work / args.starter)
    local = settings.model_copy(update={
        "index": settings.index.model_copy(update={"root": work}),
        "embedding": settings.embedding.model_copy(update={"cache_dir": work / "cache"})})
    engine = Engine.open(local, args.starter, build_if_missing=False)
    info = engine.info()
    print(f"starter index: {info['counts']['documents']} documents, {info['counts']['chunks']} chunks")
    embedder = shared_embedder(local)
    cache = open_cache(local, embedder)
    records = json.loads((REPO / "knowledge/literature/pubmedqa/pqal_public_500.json").read_text())
    questions = [r["QUESTION"] for r in records.values()]
    embed_s, commit_s, total_s = [], [], []
    for i, record in enumerate(list(records.values())[: args.adds]):
        document = Document(id=f"bench:add:{i}", source="bench", title=f"Bench note {i}",
                            text=f"Bench note {i}. " + " ".join(record["CONTEXTS"]))
        started = time.perf_counter()
        chunks = chunk_document(document, local.chunking)
        vectors, _ = embed_with_cache(embedder, [c.text for c in chunks], cache)
        embedded = time.perf_counter()
        engine.store.commit(upserts=[(document, chunks, vectors)])
        done = time.perf_counter()
        embed_s.append(embedded - started)
        commit_s.append(done - embedded)
        total_s.append(done - started)
    print(f"  one-document add ({args.adds} adds, about 2 chunks each): total p50 {pct(total_s, 50):.3f} s = "
          f"embedding p50 {pct(embed_s, 50):.3f} s + commit p50 {pct(commit_s, 50):.4f} s "
          f"(commit p95 {pct(commit_s, 95):.4f} s; target: commit <= 0.2 s)")
    missing = delete_missing(engine.delete, work / args.starter)
    print(f"  DELETE of a missing id: p50 {missing['p50_ms']:.3f} ms, p99 {missing['p99_ms']:.3f} ms, "
          f"max {missing['max_ms']:.3f} ms, files changed {missing['files_changed']} (target <= 10 ms, 0 files)")
    for q in questions:  # warm-up: query vectors cached
        engine.search(q, k=10)

    def search(n: int) -> object:
        return engine.search(questions[n % len(questions)], k=10)

    read = searching(search, args.read)
    result = report("starter", read, soak(work, args.starter, args.soak, args.interval, search))
    engine.close()
    cache.close()
    return {"add": {"embed_p50_s": pct(embed_s, 50), "commit_p50_s": pct(commit_s, 50),
                    "total_p50_s": pct(total_s, 50)}, "delete_missing": missing, **result}


# -- the synthetic 100k index --------------------------------------------------------------------
def synthetic(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    records = json.loads((REPO / "knowledge/literature/pubmedqa/pqal_public_500.json").read_text())
    words = np.array(" ".join(" ".join(r["CONTEXTS"]) for r in records.values()).split())
    settings = IndexSettings(root=work, use_gpu=False)
    started = time.perf_counter()
    store = IndexStore.create(work / "synthetic", "bench-synthetic", 384, settings)

    def unit(n: int) -> np.ndarray:
        v = rng.standard_normal((n, 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def doc(i: int) -> tuple[Document, list[Chunk], np.ndarray]:
        text = " ".join(words[rng.integers(0, len(words), 80)])
        document = Document(id=f"syn:{i}", source="synthetic", title=f"Synthetic {i}", text=text)
        return document, [Chunk(doc_id=document.id, ordinal=0, text=text, start=0, end=len(text))], unit(1)

    batch = 5000
    for begin in range(0, args.chunks, batch):
        store.commit(upserts=[doc(i) for i in range(begin, min(begin + batch, args.chunks))], merge=False)
    store.flush()
    print(f"synthetic index: {len(store.current().dense)} chunks (384-d), built in {time.perf_counter() - started:.1f} s")
    commit_s = []
    for i in range(args.adds):
        upsert = doc(args.chunks + i)
        begin = time.perf_counter()
        store.commit(upserts=[upsert])
        commit_s.append(time.perf_counter() - begin)
    print(f"  one-document add ({args.adds} adds, 1 chunk each, no embedding): commit p50 {pct(commit_s, 50):.4f} s, "
          f"p95 {pct(commit_s, 95):.4f} s (target <= 0.2 s)")
    missing = delete_missing(lambda ids: store.commit(deletes=ids).deleted, work / "synthetic")
    print(f"  DELETE of a missing id: p50 {missing['p50_ms']:.3f} ms, p99 {missing['p99_ms']:.3f} ms, "
          f"max {missing['max_ms']:.3f} ms, files changed {missing['files_changed']} (target <= 10 ms, 0 files)")
    queries = unit(200)
    texts = [" ".join(words[rng.integers(0, len(words), 6)]) for _ in range(200)]

    def search(n: int) -> object:
        store.dense_search(queries[n % 200], 50, None)
        return store.bm25_search(texts[n % 200], 50, None)

    read = searching(search, args.read)
    result = report("synthetic", read, soak(work, "synthetic", args.soak, args.interval, search))
    store.close()
    return {"add": {"commit_p50_s": pct(commit_s, 50)}, "delete_missing": missing, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starter", default="starter", help="Name of the starter index under the index root.")
    parser.add_argument("--chunks", type=int, default=100_000, help="Chunks in the synthetic index.")
    parser.add_argument("--adds", type=int, default=30, help="One-document adds measured.")
    parser.add_argument("--read", type=float, default=30.0, help="Seconds of read-only searching.")
    parser.add_argument("--soak", type=float, default=120.0, help="Seconds of searching during the write soak.")
    parser.add_argument("--interval", type=float, default=0.05, help="Pause between the soak writer's commits (s).")
    parser.add_argument("--skip-starter", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--writer", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        root, name, seconds, interval = args.writer
        writer(Path(root), name, float(seconds), float(interval))
        return
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ragmed-writes-") as tmp:
        work = Path(tmp)
        if not args.skip_starter:
            results["starter"] = starter(args, work)
        if not args.skip_synthetic:
            results["synthetic"] = synthetic(args, work)
    print(json.dumps(results, default=lambda v: round(v, 4)))


if __name__ == "__main__":
    main()
