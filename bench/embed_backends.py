"""Embedding backends side by side: passages per second of sentence-transformers (PyTorch), ONNX fp32 and
ONNX int8 in the same run on real starter passages, and MRR@10 of each on the project's retrieval sets.

Throughput rounds interleave the backends (each round encodes the same slice with every backend, in turn), so
load from elsewhere on the machine falls on all of them alike; wall-clock passages/s and passages per CPU-second
of this process are both printed (the second moves less on a busy machine). On a GPU the PyTorch backend is also
measured in float16; with no GPU the script says so.

    python bench/embed_backends.py                              # 2,000 passages, then both retrieval sets
    python bench/embed_backends.py --passages 500 --sets pubmedqa --corpus-size 200 --limit 100
    python bench/embed_backends.py --data-root /path/to/data    # MedQuAD: all nine subsets

Each backend's retrieval indexes go to <index-root>/<backend>/ (default: a temporary folder), so the backends
never share vectors or caches.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_throughput import starter_passages

BACKENDS = {"torch": {"backend": "sentence-transformers"}, "onnx-fp32": {"backend": "onnx"},
            "onnx-int8": {"backend": "onnx", "quantize": True}}


def throughput(embedders: dict, texts: list[str], rounds: int) -> dict[str, tuple[float, float]]:  # type: ignore[type-arg]
    """``{backend: (passages per wall second, passages per CPU second)}`` over interleaved rounds."""
    wall = dict.fromkeys(embedders, 0.0)
    cpu = dict.fromkeys(embedders, 0.0)
    size = max(1, len(texts) // rounds)
    for embedder in embedders.values():
        embedder.encode(texts[: embedder.settings.batch_size])  # warm-up
    for r in range(rounds):
        part = texts[r * size:(r + 1) * size]
        names = list(embedders)
        for name in names[r % len(names):] + names[: r % len(names)]:
            started, cpu_started = time.perf_counter(), time.process_time()
            embedders[name].encode(part)
            wall[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - cpu_started
    done = size * rounds
    return {name: (done / wall[name], done / max(cpu[name], 1e-9)) for name in embedders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sets", default="pubmedqa,medquad", help="retrieval sets for MRR@10 ('' to skip)")
    parser.add_argument("--corpus-size", type=int, default=None, help="documents per set (default: the set's own)")
    parser.add_argument("--limit", type=int, default=None, help="questions per set (default: the set's own)")
    parser.add_argument("--data-root", type=Path, default=None, help="data folder (MedQuAD's nine subsets)")
    parser.add_argument("--index-root", type=Path, default=None, help="folder for the eval indexes (default: temp)")
    args = parser.parse_args()

    import torch

    from ragmed.config import EmbeddingSettings, load_settings
    from ragmed.embedding import make_embedder

    root = args.index_root or Path(tempfile.mkdtemp(prefix="ragmed-embed-bench-"))
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    else:
        print(f"no GPU: torch sees no CUDA device; measuring the CPU ({os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f})")
    texts = starter_passages(args.passages)
    embedders = {name: make_embedder(EmbeddingSettings(batch_size=args.batch_size, **options), root / name / ".cache")
                 for name, options in BACKENDS.items()}
    if torch.cuda.is_available():
        half = make_embedder(EmbeddingSettings(batch_size=256), root / "torch" / ".cache")
        half._model.half()  # type: ignore[attr-defined]
        embedders["torch-fp16"] = half
    print(f"{len(texts)} starter passages, batch {args.batch_size}, {args.rounds} interleaved rounds")
    speeds = throughput(embedders, texts, args.rounds)
    base_wall, base_cpu = speeds["torch"]
    print(f"{'backend':<11} {'passages/s':>11} {'x torch':>8} {'per CPU-s':>10} {'x torch':>8}")
    for name, (wall, cpu) in speeds.items():
        print(f"{name:<11} {wall:>11.1f} {wall / base_wall:>8.2f} {cpu:>10.1f} {cpu / base_cpu:>8.2f}")

    sets = [s for s in args.sets.split(",") if s]
    if not sets:
        return
    from eval.retrieval import evaluate_retrieval

    print(f"\nretrieval (indexes under {root})")
    print(f"{'set':<9} {'backend':<11} {'mode':<7} {'MRR@10':>7} {'R@10':>6} {'build s':>8}")
    for dataset in sets:
        for name, options in BACKENDS.items():
            settings = load_settings(index={"root": str(root / name)}, embedding=options)
            embedder = make_embedder(settings.embedding.model_copy(update={"query_cache_size": 0}),
                                     root / name / ".cache")
            report = evaluate_retrieval(dataset, settings, limit=args.limit, corpus_size=args.corpus_size,
                                        data_root=args.data_root, embedder=embedder)
            for row in report.rows:
                if row.mode != "bm25":
                    print(f"{dataset:<9} {name:<11} {row.mode:<7} {row.mrr_at_10:>7.3f} {row.recall[10]:>6.3f} "
                          f"{report.build.get('seconds', 0):>8.1f}")


if __name__ == "__main__":
    main()
