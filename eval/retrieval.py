"""Known-item retrieval evaluation: dense vs BM25 vs hybrid on dedicated eval indexes.

(a) PubMedQA: every question against the indexed abstracts (without their conclusions); gold is the
question's own abstract. (b) MedQuAD: questions sampled from at least 5,000 indexed answers (answers
only; the title is the document's focus, never the question); gold is the question's own answer.
Each mode runs the same queries one at a time on a warm engine, with the query-embedding cache
off so that no mode reuses another's work.

Example:
    >>> report = evaluate_retrieval("pubmedqa", settings, limit=100)  # doctest: +SKIP
    >>> print(report.rows[0].recall[10])  # doctest: +SKIP
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import resolve
from eval.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from ragmed.config import Settings
from ragmed.embedding import DEFAULT_MODEL
from ragmed.errors import ConfigError
from ragmed.types import Document

SETS = ("pubmedqa", "medquad")
MODES = ("dense", "bm25", "hybrid")
KS = (1, 5, 10)
Progress = Callable[[str, int, "int | None"], None]


@dataclass
class RetrievalSet:
    """Documents to index and ``(question, gold document id)`` queries over them."""

    name: str
    documents: list[Document]
    queries: list[tuple[str, str]]


@dataclass
class ModeResult:
    """One retrieval mode on one set."""

    dataset: str
    mode: str
    recall: dict[int, float]
    mrr_at_10: float
    ndcg_at_10: float
    p50_ms: float
    p95_ms: float
    n: int


@dataclass
class RetrievalReport:
    """All modes on one set, with the index they ran on."""

    dataset: str
    index: str
    documents: int
    queries: int
    rows: list[ModeResult] = field(default_factory=list)
    build: dict[str, Any] = field(default_factory=dict)


def pubmedqa_set(data_root: Path | None = None, *, corpus_size: int | None = None, limit: int | None = None,
                 seed: int = 0) -> RetrievalSet:
    """PubMedQA abstracts (ragmed's reader: labelled sections, conclusion left out, no title).

    Args:
        corpus_size: abstracts indexed (all 500 when None; a seeded sample otherwise).
        limit: questions asked (all indexed ones when None; a seeded sample otherwise).
    """
    from ragmed.sources import read_path

    path, _ = resolve("pubmedqa", data_root)
    documents = [d for d in read_path(path, "pubmedqa") if d.metadata.get("question")]
    documents = _sample(documents, corpus_size, seed)
    queries = [(str(d.metadata["question"]), d.id) for d in documents]
    return RetrievalSet("pubmedqa", documents, _sample(queries, limit, seed + 1))


def medquad_set(data_root: Path | None = None, *, corpus_size: int = 5000, limit: int | None = 500,
                seed: int = 0) -> RetrievalSet:
    """MedQuAD answers as ragmed's reader gives them, with the document's focus as title instead of
    the question; repeated answer texts are kept once.

    Args:
        corpus_size: answers indexed (a seeded sample of the distinct answers).
        limit: questions asked, sampled by seed from those whose answer is indexed.
    """
    from ragmed.sources import read_path

    path, _ = resolve("medquad", data_root)
    seen: set[str] = set()
    documents = []
    for doc in read_path(path, "medquad", lambda error: None):
        key = " ".join(doc.text.lower().split())
        if key in seen or not doc.metadata.get("question"):
            continue
        seen.add(key)
        question = doc.metadata.pop("question")
        doc.metadata["eval_question"] = question
        doc.title = str(doc.metadata.get("focus") or "")
        documents.append(doc)
    documents = _sample(documents, corpus_size, seed)
    queries = [(str(d.metadata.pop("eval_question")), d.id) for d in documents]
    return RetrievalSet("medquad", documents, _sample(queries, limit, seed + 1))


def evaluate_retrieval(dataset: str, settings: Settings, *, limit: int | None = None, corpus_size: int | None = None,
                       seed: int = 0, depth: int = 50, data_root: Path | None = None, embedder: Any = None,
                       progress: Progress | None = None) -> RetrievalReport:
    """Build (or reuse) the eval index of ``dataset`` and measure every retrieval mode on it.

    Args:
        dataset: "pubmedqa" or "medquad".
        settings: index root and models; the index is ``eval-<dataset>`` (suffixed with the corpus
            size and seed when they differ from the defaults).
        limit: questions asked (PubMedQA: all indexed; MedQuAD: 500 when None).
        corpus_size: documents indexed (PubMedQA: all 500; MedQuAD: 5,000 when None).
        seed: sampling seed for documents and questions.
        depth: passages retrieved per query before documents are de-duplicated (metrics use the first 10).
        embedder: embedder to use; a fresh one without a query cache when None.
        progress: ``progress(stage, advance, total)`` for index building and querying.

    Raises:
        ConfigError: an unknown dataset or a depth below 10.
    """
    if dataset not in SETS:
        raise ConfigError(f"retrieval dataset must be one of {', '.join(SETS)}, got {dataset!r}")
    if depth < 10:
        raise ConfigError(f"depth must be at least 10, got {depth}")
    if dataset == "pubmedqa":
        data = pubmedqa_set(data_root, corpus_size=corpus_size, limit=limit, seed=seed)
        default = corpus_size is None and seed == 0
    else:
        data = medquad_set(data_root, corpus_size=corpus_size or 5000, limit=limit or 500, seed=seed)
        default = corpus_size in (None, 5000) and seed == 0
    name = f"eval-{dataset}" if default else f"eval-{dataset}-{len(data.documents)}-s{seed}"
    embedder = embedder or _fresh_embedder(settings)
    if embedder.model_id != DEFAULT_MODEL:  # e.g. the int8 ONNX model: its own index beside the default one
        name += "-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in embedder.model_id)
    engine, build = open_eval_index(data, name, settings, embedder, progress)
    report = RetrievalReport(dataset, name, len(data.documents), len(data.queries), build=build)
    try:
        report.rows = _measure(engine, data, depth, progress)
    finally:
        engine.close()
    return report


def open_eval_index(data: RetrievalSet, name: str, settings: Settings, embedder: Any = None,
                    progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """Build or update ``indexes/<name>`` from ``data.documents`` (unchanged documents cost nothing)
    and open an engine on it; returns the engine and the build counts."""
    from ragmed.build import build_index
    from ragmed.engine import Engine
    from ragmed.index.store import IndexStore

    if embedder is None:
        embedder = _fresh_embedder(settings)
    started = time.perf_counter()
    report = build_index(data.documents, settings, name=name, progress=progress, embedder=embedder)
    build = {"seconds": round(time.perf_counter() - started, 1), **report.to_dict()}
    store = IndexStore.open(settings.index.root / name, embedder.model_id, embedder.dimension, settings.index)
    return Engine(settings, store, embedder), build


def _fresh_embedder(settings: Settings) -> Any:
    """The configured embedder (any backend) without a query cache, so that no mode reuses another's work."""
    from ragmed.embedding import cache_folder, make_embedder

    return make_embedder(settings.embedding.model_copy(update={"query_cache_size": 0}),
                         cache_folder(settings.embedding, settings.index.root))


def _measure(engine: Any, data: RetrievalSet, depth: int, progress: Progress | None) -> list[ModeResult]:
    """Every mode on every query, one search at a time; the modes take turns going first on
    successive queries, so load from elsewhere on the machine falls on all of them alike."""
    for question, _ in data.queries[:5]:
        for mode in MODES:
            engine.search(question, k=depth, mode=mode)
    latencies: dict[str, list[float]] = {m: [] for m in MODES}
    ranked: dict[str, list[list[str]]] = {m: [] for m in MODES}
    if progress:
        progress(f"search {data.name}", 0, len(data.queries))
    for n, (question, _) in enumerate(data.queries):
        for mode in MODES[n % len(MODES):] + MODES[: n % len(MODES)]:
            started = time.perf_counter()
            passages = engine.search(question, k=depth, mode=mode)
            latencies[mode].append((time.perf_counter() - started) * 1000)
            ranked[mode].append([p.doc_id for p in passages])
        if progress:
            progress(f"search {data.name}", 1, None)
    rows = []
    for mode in MODES:
        golds = [[gold] for _, gold in data.queries]
        n = len(golds)
        recall = {k: sum(recall_at_k(r, g, k) for r, g in zip(ranked[mode], golds)) / n for k in KS}
        mrr = sum(mrr_at_k(r, g, 10) for r, g in zip(ranked[mode], golds)) / n
        ndcg = sum(ndcg_at_k(r, g, 10) for r, g in zip(ranked[mode], golds)) / n
        rows.append(ModeResult(data.name, mode, recall, mrr, ndcg, percentile(latencies[mode], 50),
                               percentile(latencies[mode], 95), n))
    return rows


def _sample(values: list[Any], size: int | None, seed: int) -> list[Any]:
    if size is None or size >= len(values):
        return list(values)
    if size < 1:
        raise ConfigError(f"sample size must be at least 1, got {size}")
    return [values[i] for i in sorted(random.Random(seed).sample(range(len(values)), size))]
