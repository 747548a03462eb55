"""The evaluation harness: benchmark ragmed on medical QA sets, reproducibly, with reports.

datasets (one adapter per format) -> ``EvalItem`` -> predictor (the engine in closed-book, rag or
oracle mode, or a random/majority baseline) -> trace (one JSON line per item, resumable) ->
summary (metrics with bootstrap intervals) -> Markdown and HTML reports; ``compare`` pairs two runs;
``retrieval`` measures dense, BM25 and hybrid retrieval on known-item sets.

Example:
    >>> from eval import RunConfig, run_eval
    >>> result = run_eval(RunConfig(dataset="pubmedqa", baseline="majority"), Path("runs/majority"))  # doctest: +SKIP
    >>> result.summary["overall"]["accuracy"]["value"]  # doctest: +SKIP
    0.552
"""

from __future__ import annotations

from eval.compare import compare_runs
from eval.datasets import Dataset, load_dataset
from eval.items import EvalItem
from eval.runner import RunConfig, RunResult, run_eval

__all__ = ["Dataset", "EvalItem", "RunConfig", "RunResult", "compare_runs", "load_dataset", "run_eval"]
