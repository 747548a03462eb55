"""The BM25 base at scale: open time, memory and query latency, memory-mapped versus read into memory.

Synthetic chunks of ``--tokens`` analysed tokens each are drawn from the term frequencies of the analysed
PubMedQA contexts in ``knowledge/`` (the real vocabulary and its Zipfian document frequencies; no co-occurrence
structure), written once per size with ``BM25Index.save``. Then, for each way of opening, in a fresh process:
- open: ``BM25Index.load`` wall time, and the resident memory it added (``VmRSS``, and ``RssAnon``: the
  process's own memory, not file pages mapped from the index);
- checksums: the SHA-256 of every file, what ``IndexStore`` verifies at open (timed once per size);
- queries: the 500 PubMedQA questions, top 10, one at a time; p50 and p95 after one warm-up pass, and the
  resident memory after them (the mapped pages the queries touched count in ``VmRSS``).
The files were just written, so they are in the page cache: the mapped figures are warm-cache figures.
The load average is printed with each size: the cores are shared, and other work shows in every number.

Usage:
    python bench/bm25_scale.py [--sizes 100000,1000000] [--tokens 100] [--folder /tmp/ragmed-bm25-scale]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragmed.hashing import sha256_file  # noqa: E402
from ragmed.index.analysis import analyze  # noqa: E402
from ragmed.index.lexical import BM25Index, Vocabulary, _Segment  # noqa: E402

PUBMEDQA = REPO / "knowledge/literature/pubmedqa/pqal_public_500.json"
BATCH = 50_000


def _records() -> dict[str, Any]:
    return dict(json.loads(PUBMEDQA.read_text()))


def build(size: int, tokens: int, folder: Path) -> list[str]:
    """Write a BM25 base of ``size`` synthetic chunks to ``folder``; return its files."""
    counts: dict[str, int] = {}
    for record in _records().values():
        for term in analyze(" ".join(record["CONTEXTS"])):
            counts[term] = counts.get(term, 0) + 1
    vocabulary = Vocabulary(sorted(counts))
    p = np.array([counts[t] for t in vocabulary.terms], dtype=np.float64)
    p /= p.sum()
    width, rng, parts = len(vocabulary), np.random.default_rng(0), []
    for start in range(0, size, BATCH):
        n = min(BATCH, size - start)
        keys = np.repeat(np.arange(n, dtype=np.int64), tokens) * width + rng.choice(width, n * tokens, p=p)
        unique, tf = np.unique(keys, return_counts=True)
        rows = unique // width
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        parts.append(sparse.csr_matrix((tf.astype(np.float32), (unique % width).astype(np.int32), indptr),
                                       shape=(n, width)))
    matrix = sparse.vstack(parts, format="csr")
    del parts
    ids = np.arange(size, dtype=np.int64)
    lengths = np.full(size, float(tokens), dtype=np.float32)
    df = np.bincount(matrix.indices, minlength=width).astype(np.float64)

    index = BM25Index(vocabulary, (_Segment.make(ids, matrix, lengths),), np.empty(0, dtype=np.int64), df,
                      float(lengths.sum(dtype=np.float64)))
    del matrix
    folder.mkdir(parents=True, exist_ok=True)
    return index.save(folder, "lexical-bench")


def _memory_mb() -> tuple[float, float]:
    """Resident memory now: all of it (VmRSS) and the process's own (RssAnon), in MB."""
    with open("/proc/self/status") as status:
        fields = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "RssAnon"))}
    return fields["VmRSS"] / 1024, fields["RssAnon"] / 1024


def measure(folder: Path, files: list[str], mmap: bool) -> dict[str, Any]:
    """Open the base one way and time queries (run in a fresh process)."""
    questions = [r["QUESTION"] for r in _records().values()]
    rss0, anon0 = _memory_mb()
    started = time.perf_counter()
    index = BM25Index.load(folder, files, mmap=mmap)
    open_s = time.perf_counter() - started
    rss1, anon1 = _memory_mb()
    for question in questions:
        index.search(question, 10)
    times = []
    for question in questions:
        started = time.perf_counter()
        index.search(question, 10)
        times.append(time.perf_counter() - started)
    rss2, anon2 = _memory_mb()
    return {"mmap": mmap, "open_s": open_s, "open_rss_mb": rss1 - rss0, "open_anon_mb": anon1 - anon0,
            "query_p50_ms": 1000 * float(np.percentile(times, 50)), "query_p95_ms": 1000 * float(np.percentile(times, 95)),
            "after_queries_rss_mb": rss2 - rss0, "after_queries_anon_mb": anon2 - anon0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ragmed-bm25-scale"))
    parser.add_argument("--measure", nargs=2, metavar=("FOLDER", "MMAP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        folder = Path(args.measure[0])
        files = json.loads((folder / "files.json").read_text())
        print(json.dumps(measure(folder, files, args.measure[1] == "1")))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        folder = args.folder / str(size)
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        files = build(size, args.tokens, folder)
        build_s = time.perf_counter() - started
        (folder / "files.json").write_text(json.dumps(files))
        meta = json.loads((folder / files[0]).read_text())
        disk = {name: (folder / name).stat().st_size / 2**20 for name in files}
        started = time.perf_counter()
        for name in files:
            sha256_file(folder / name)
        checksum_s = time.perf_counter() - started
        print(f"{size:,} chunks: {meta['postings']:,} postings, {meta['terms']:,} terms, {sum(disk.values()):,.0f} MB "
              f"on disk (postings {sum(v for k, v in disk.items() if '.postings-' in k):,.0f} MB), built in "
              f"{build_s:.0f} s; SHA-256 of every file {checksum_s:.2f} s; load {os.getloadavg()[0]:.1f}", flush=True)
        for mmap in (True, False):
            result = subprocess.run([sys.executable, __file__, "--measure", str(folder), "1" if mmap else "0"],
                                    capture_output=True, text=True, check=True)
            r = json.loads(result.stdout)
            print(f"  {'memory-mapped' if mmap else 'read into memory':>16}: open {r['open_s'] * 1000:,.1f} ms, "
                  f"+{r['open_rss_mb']:,.0f} MB RSS (+{r['open_anon_mb']:,.0f} MB anonymous); query p50 "
                  f"{r['query_p50_ms']:.2f} ms, p95 {r['query_p95_ms']:.2f} ms; after 1,000 queries "
                  f"+{r['after_queries_rss_mb']:,.0f} MB RSS (+{r['after_queries_anon_mb']:,.0f} MB anonymous); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
