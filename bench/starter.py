"""Measure the starter knowledge build and the query path on this machine.

Prints: first build time, passages embedded per second, index size on disk, search latency
p50/p95 (one query at a time, warm), warm extractive `ask` p50/p95, and the time of a rebuild
after adding ten documents. Builds into a fresh temporary index root unless --root is given.

    python bench/starter.py [--root DIR] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="index root (default: a fresh temporary folder)")
    parser.add_argument("--queries", type=int, default=50, help="queries timed per measurement")
    args = parser.parse_args()

    from ragmed.build import build_knowledge
    from ragmed.config import load_settings
    from ragmed.embedding import shared_embedder
    from ragmed.engine import Engine

    root = args.root or Path(tempfile.mkdtemp(prefix="ragmed-bench-"))
    settings = load_settings(index={"root": str(root)}, embedding={"cache_dir": str(root / ".cache")})
    started = time.perf_counter()
    embedder = shared_embedder(settings)
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    report = build_knowledge(settings, embedder=embedder)
    build_s = time.perf_counter() - started
    engine = Engine.open(settings, build_if_missing=False)
    info = engine.info()
    size = folder_size(root / settings.index.name)

    records = json.loads((settings.knowledge.parent / "literature/pubmedqa/pqal_public_500.json").read_text())
    questions = [r["QUESTION"] for r in list(records.values())[: args.queries]]
    engine.search(questions[0])
    search_ms = []
    for q in questions:
        t = time.perf_counter()
        engine.search(q)
        search_ms.append((time.perf_counter() - t) * 1000)
    engine.ask(questions[0])
    ask_ms = []
    for q in questions:
        t = time.perf_counter()
        engine.ask(q, generator="extractive")
        ask_ms.append((time.perf_counter() - t) * 1000)

    from ragmed.types import Document

    extra_records = list(records.items())[: 10]
    new_docs = [Document(id=f"bench:{pmid}", source="bench", title=r["QUESTION"], text=" ".join(r["CONTEXTS"]))
                for pmid, r in extra_records]
    t = time.perf_counter()
    added = engine.add(new_docs)
    add_s = time.perf_counter() - t

    rows = [
        ("embedding model load", f"{load_s:.1f} s"),
        ("starter build (first, cold cache)", f"{build_s:.1f} s"),
        ("documents / chunks / vectors", f"{info['counts']['documents']} / {info['counts']['chunks']} / {info['counts']['vectors']}"),
        ("concepts in the concept store", f"{info.get('concepts', 0)}"),
        ("passages embedded per second", f"{report.chunks_embedded / build_s:.1f}"),
        ("index size on disk", f"{size / 1e6:.1f} MB"),
        ("search latency p50 / p95 (hybrid, warm)", f"{statistics.median(search_ms):.1f} / {percentile(search_ms, 95):.1f} ms"),
        ("extractive ask p50 / p95 (warm)", f"{statistics.median(ask_ms):.1f} / {percentile(ask_ms, 95):.1f} ms"),
        ("add ten documents (embed + commit)", f"{add_s:.2f} s ({added.chunks_embedded} chunks embedded)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"ragmed starter benchmark ({os.cpu_count()} CPU cores, index root {root})")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    if report.errors:
        print(f"  skipped records: {len(report.errors)} (first: {report.errors[0]})")


if __name__ == "__main__":
    main()
