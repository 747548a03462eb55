"""The IVF-PQ backend at scale: build time, peak memory, disk, recall@10 against exact search, query latency.

Vectors are synthetic but matched to real ones: a model is fitted to real all-MiniLM-L6-v2 embeddings of
the bundled knowledge (read from a built ragmed index with ``--real-index``, else embedded here from
PubMedQA paragraphs) and its draws are L2-normalised like the model's: by default a 64-component mixture
(k-means centres plus a Gaussian of the pooled residuals, keeping the real topical clusters), with
``--components 1`` a single full-covariance Gaussian (no clusters: the worst case for IVF).
Batches are drawn one at a time from per-batch seeds, so no size ever needs all vectors in memory.

For each size, in its own process (so ``ru_maxrss`` is that build's peak resident memory):
- build: train on ``--train-sample`` vectors, add the rest in batches, streaming float vectors to disk
  (``IVFPQIndex.build``); time, peak RSS, file sizes (codes and lists vs stored vectors);
- exact top-10 of ``--queries`` held-out queries by brute force over the stored vectors, in batches;
- per ``nprobe``: recall@10 against exact, and p50/p95 latency of one query at a time (one faiss thread);
  the search process's peak RSS counts the file pages mapped around every stored row it reads (page cache,
  reclaimable), so its anonymous memory is printed beside it.
The load average is printed with each figure: the cores are shared, and other work shows in every number.

Usage:
    python bench/scale.py [--sizes 1000000] [--nlist 1024] [--m 48] [--k-factor 8,32] [--nprobe 8,16,32,64]
                          [--components 64] [--threads 1] [--on-disk-from 5000000] [--real-index indexes/starter]
                          [--folder /tmp/ragmed-scale] [--json figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragmed.index.ivf import IVFPQIndex, IVFPQOptions, chooses_gpu  # noqa: E402

BATCH = 65_536
DIM = 384


def real_sample(index: Path | None, n: int) -> np.ndarray:
    """Real MiniLM embeddings: the chunk vectors of a built ragmed index, or ``n`` PubMedQA paragraphs embedded."""
    if index is not None:
        with sqlite3.connect(f"file:{index / 'docstore.sqlite'}?mode=ro", uri=True) as db:
            rows = [np.frombuffer(blob, dtype=np.float32) for (blob,) in db.execute("SELECT vector FROM chunks")]
        return np.stack(rows)
    from ragmed.config import Settings
    from ragmed.embedding import shared_embedder

    records = json.loads((REPO / "knowledge/literature/pubmedqa/pqal_public_500.json").read_text())
    paragraphs = [c for r in records.values() for c in r["CONTEXTS"]][:n]
    return np.asarray(shared_embedder(Settings()).encode(paragraphs), dtype=np.float32)


class Matched:
    """Draws L2-normalised vectors from a model fitted to real ones.

    With one component, a full-covariance Gaussian (no cluster structure: the hardest case for an IVF
    index, harder than real text). With more, a mixture: spherical k-means centres of the real vectors,
    weighted by their cluster sizes, plus a Gaussian fitted to the pooled residuals around the centres,
    which keeps the topical clusters real embeddings have.
    """

    def __init__(self, real: np.ndarray, components: int) -> None:
        import faiss

        if components > 1:
            kmeans = faiss.Kmeans(real.shape[1], components, niter=20, seed=1, spherical=True)
            kmeans.train(np.ascontiguousarray(real))
            assign = kmeans.index.search(real, 1)[1][:, 0]
            self.centres = kmeans.centroids.astype(np.float32)
        else:
            assign = np.zeros(len(real), dtype=np.int64)
            self.centres = real.mean(axis=0, keepdims=True).astype(np.float32)
        self.weights = np.bincount(assign, minlength=len(self.centres)) / len(real)
        residuals = real - self.centres[assign]
        cov = np.cov(residuals, rowvar=False) + 1e-5 * np.eye(real.shape[1])
        self.factor = np.linalg.cholesky(cov).astype(np.float32)

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.factor.shape[0]), dtype=np.float32)
        x = z @ self.factor.T + self.centres[rng.choice(len(self.centres), n, p=self.weights)]
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _anon_mb() -> float:
    """Resident anonymous memory now (not the file pages mapped from the stored vectors and on-disk lists)."""
    with open("/proc/self/status") as status:
        line = next((x for x in status if x.startswith("RssAnon:")), "RssAnon: 0 kB")
    return int(line.split()[1]) / 1024


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def build(gaussian: Matched, size: int, options: IVFPQOptions, folder: Path) -> dict[str, Any]:
    """Build one index (run in a fresh process: the peak RSS is this build's)."""
    import faiss

    faiss.omp_set_num_threads(options.threads)
    folder.mkdir(parents=True, exist_ok=True)
    started, load = time.perf_counter(), _load()
    sample = gaussian.draw(min(options.train_sample, size), seed=10**9)
    batches = ((np.arange(s, min(s + BATCH, size), dtype=np.int64), gaussian.draw(min(BATCH, size - s), seed=s))
               for s in range(0, size, BATCH))
    trained_at = time.perf_counter()
    _, files = IVFPQIndex.build(folder, "dense-scale", DIM, options, sample, batches)
    seconds = time.perf_counter() - started
    sizes = {name: (folder / name).stat().st_size for name in files}
    codes = sum(v for k, v in sizes.items() if not k.endswith(".npy"))
    return {"size": size, "files": files, "build_s": seconds, "sample_s": trained_at - started,
            "peak_rss_mb": _rss_mb(), "codes_mb": codes / 2**20, "disk_mb": sum(sizes.values()) / 2**20,
            "load": f"{load} -> {_load()}", "gpu": chooses_gpu(options)}


def exact_top10(folder: Path, files: list[str], queries: np.ndarray) -> np.ndarray:
    """Brute-force top-10 ids over the stored vectors, read in batches (read, not mapped: the search RSS stays
    the index's own)."""
    row_ids = np.load(folder / files[-1])
    best_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), 10), -1, dtype=np.int64)
    with open(folder / files[-2], "rb") as handle:
        np.lib.format.read_magic(handle)  # written as format 1.0 by IVFPQIndex.build and numpy.save
        np.lib.format.read_array_header_1_0(handle)
        for start in range(0, len(row_ids), 262_144):
            block = np.fromfile(handle, dtype=np.float32, count=262_144 * DIM).reshape(-1, DIM)
            scores = queries @ block.T
            top = np.argpartition(-scores, 9, axis=1)[:, :10]
            cand_s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
            cand_i = np.concatenate([best_i, row_ids[start:start + 262_144][top]], axis=1)
            keep = np.argsort(-cand_s, axis=1)[:, :10]
            best_s, best_i = np.take_along_axis(cand_s, keep, axis=1), np.take_along_axis(cand_i, keep, axis=1)
    return best_i


def measure(gaussian: Matched, built: dict[str, Any], options: IVFPQOptions, folder: Path,
            probes: list[tuple[int, int]], n_queries: int) -> list[dict[str, Any]]:
    """Recall@10 and one-query-at-a-time latency per ``(k_factor, nprobe)`` (run in a fresh process)."""
    import faiss

    faiss.omp_set_num_threads(options.threads)
    queries = gaussian.draw(n_queries, seed=-1 % 2**32)
    started = time.perf_counter()
    exact = exact_top10(folder, built["files"], queries)
    exact_s = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    rows = []
    for k_factor, nprobe in probes:
        index = IVFPQIndex.load(folder, built["files"], replace(options, nprobe=nprobe, k_factor=k_factor, threads=1))
        index.search(queries[:20], 10)  # warm the lists and the vector pages these queries touch
        load, times, found = _load(), [], []
        for query in queries:
            t = time.perf_counter()
            found.append(index.search(query, 10)[1][0])
            times.append((time.perf_counter() - t) * 1000)
        recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))
        rows.append({"k_factor": k_factor, "nprobe": nprobe, "recall10": recall, "p50_ms": float(np.percentile(times, 50)),
                     "p95_ms": float(np.percentile(times, 95)), "load": f"{load} -> {_load()}",
                     "exact_s": exact_s, "search_rss_mb": _rss_mb(), "search_anon_mb": _anon_mb()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated vector counts")
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--m", type=int, default=48)
    parser.add_argument("--nbits", type=int, default=8)
    parser.add_argument("--k-factor", default="8,32", help="comma-separated refinement depths")
    parser.add_argument("--train-sample", type=int, default=100_000)
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--on-disk-from", type=int, default=5_000_000,
                        help="sizes at or above this use on-disk inverted lists")
    parser.add_argument("--real-index", type=Path, default=None, help="a built ragmed index to read real vectors from")
    parser.add_argument("--real-passages", type=int, default=1500, help="paragraphs to embed without --real-index")
    parser.add_argument("--components", type=int, default=64,
                        help="mixture components fitted to the real vectors (1: a single Gaussian, the worst case)")
    parser.add_argument("--threads", type=int, default=1,
                        help="faiss threads for the build (more lose to thread hand-offs when the cores are shared)")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ragmed-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the built files")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    real = real_sample(args.real_index, args.real_passages)
    gaussian = Matched(real, args.components)
    print(f"real sample: {len(real)} MiniLM vectors ({args.real_index or 'embedded PubMedQA paragraphs'}), "
          f"{args.components} mixture components; cores {os.cpu_count()}, build threads {args.threads}; "
          f"load {_load()}", flush=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        options = IVFPQOptions(nlist=args.nlist, m=args.m, nbits=args.nbits, train_sample=args.train_sample,
                               k_factor=int(args.k_factor.split(",")[0]), on_disk=size >= args.on_disk_from, use_gpu=True,
                               threads=args.threads)
        folder = args.folder / str(size)
        shutil.rmtree(folder, ignore_errors=True)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            built = pool.submit(build, gaussian, size, options, folder).result()
        print(json.dumps(built), flush=True)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            grid = [(int(k), int(p)) for k in args.k_factor.split(",") for p in args.nprobe.split(",")]
            rows = pool.submit(measure, gaussian, built, options, folder, grid, args.queries).result()
        for row in rows:
            print(json.dumps(row), flush=True)
        results.append({"options": {**options.__dict__, "factory": options.factory}, "components": args.components,
                        "build": built, "search": rows})
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{args.components} component(s), {options.factory}, train sample {args.train_sample:,}, "
          f"{args.queries} queries")
    print("\n| vectors | lists | build | peak RSS | codes+lists | stored vectors | k_factor | nprobe | recall@10 | p50 | p95 "
          "| load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        b = result["build"]
        for row in result["search"]:
            print(f"| {b['size']:,} | {'disk' if result['options']['on_disk'] else 'RAM'} | {b['build_s']:.0f} s | "
                  f"{b['peak_rss_mb']:.0f} MB | {b['codes_mb']:.0f} MB | {b['disk_mb'] - b['codes_mb']:.0f} MB | "
                  f"{row['k_factor']} | {row['nprobe']} | {row['recall10']:.3f} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms | "
                  f"{row['load']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
