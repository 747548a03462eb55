"""Evaluation metrics, each a small pure function over plain values.

Classification: ``accuracy``, ``bootstrap_ci`` (95% percentile bootstrap of a mean),
``paired_bootstrap`` (difference of two runs on the same items). Retrieval against gold document
ids: ``recall_at_k``, ``mrr_at_k``, ``ndcg_at_k`` (binary relevance). Citations:
``citation_precision`` (share of citations that point at a gold document) and ``citation_recall``
(share of answer sentences supported by what they cite). ``abstention`` rate and accuracy on answered
items, ``rouge_l`` (LCS-based F1, by ``rouge-score``), and ``percentile`` for latency.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragmed.errors import require


@dataclass
class Estimate:
    """A mean with its bootstrap interval."""

    value: float
    low: float
    high: float
    n: int


@dataclass
class PairedDelta:
    """``mean(b) - mean(a)`` over paired items, its bootstrap interval and two-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float
    n: int


def accuracy(correct: Sequence[bool]) -> float:
    """Share of true values.

    Raises:
        ValueError: ``correct`` is empty.
    """
    if not correct:
        raise ValueError("accuracy needs at least one item, got none")
    return sum(bool(c) for c in correct) / len(correct)


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Estimate:
    """Mean of ``values`` with a percentile-bootstrap interval (resampling items with replacement).

    Raises:
        ValueError: no values, ``n_boot`` below 1 or ``level`` outside (0, 1).
    """
    if not values:
        raise ValueError("bootstrap needs at least one value, got none")
    _check(n_boot, level)
    data = np.asarray(values, dtype=float)
    means = _resample_means(data, n_boot, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(float(data.mean()), float(low), float(high), len(data))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> PairedDelta:
    """Paired bootstrap of ``mean(b) - mean(a)``: items are resampled together in both runs.

    The p-value is two-sided: twice the share of resampled differences on the far side of zero,
    capped at 1 (identical runs give 1).

    Raises:
        ValueError: the sequences are empty or of different lengths.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired bootstrap needs two equal non-empty sequences, got {len(a)} and {len(b)}")
    _check(n_boot, level)
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    means = _resample_means(diff, n_boot, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    p_value = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return PairedDelta(float(diff.mean()), float(low), float(high), p_value, len(diff))


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Document ids in rank order with repeats (several passages of one document) removed."""
    return list(dict.fromkeys(ranked))


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Share of the gold documents found among the first ``k`` distinct ranked documents.

    Raises:
        ValueError: ``k`` below 1 or no gold document.
    """
    gold_set = _gold(gold, k)
    return len(gold_set.intersection(dedupe(ranked)[:k])) / len(gold_set)


def mrr_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Reciprocal rank of the first gold document within the first ``k`` distinct documents, else 0.

    Raises:
        ValueError: ``k`` below 1 or no gold document.
    """
    gold_set = _gold(gold, k)
    for rank, doc in enumerate(dedupe(ranked)[:k], start=1):
        if doc in gold_set:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance (gain ``1/log2(rank+1)``).

    Raises:
        ValueError: ``k`` below 1 or no gold document.
    """
    gold_set = _gold(gold, k)
    dcg = sum(1 / math.log2(r + 1) for r, d in enumerate(dedupe(ranked)[:k], start=1) if d in gold_set)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal


def citation_precision(cited_doc_ids: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of an answer's citations whose document is a gold document; None without citations."""
    if not cited_doc_ids:
        return None
    gold_set = set(gold)
    return sum(doc in gold_set for doc in cited_doc_ids) / len(cited_doc_ids)


def citation_recall(sentences: Sequence[tuple[int, bool]]) -> float | None:
    """Share of an answer's sentences that cite something and are supported by what they cite.

    Args:
        sentences: one ``(number of citations, supported)`` pair per answer sentence.

    Returns:
        The share, or None for an answer without sentences.
    """
    if not sentences:
        return None
    return sum(1 for n, supported in sentences if n > 0 and supported) / len(sentences)


def abstention(abstained: Sequence[bool], correct: Sequence[bool]) -> tuple[float, float | None]:
    """``(abstention rate, accuracy on the answered items)``; the accuracy is None if all abstained.

    Raises:
        ValueError: empty or unequal sequences.
    """
    if len(abstained) != len(correct) or not abstained:
        raise ValueError(f"abstention needs two equal non-empty sequences, got {len(abstained)} and {len(correct)}")
    answered = [c for a, c in zip(abstained, correct) if not a]
    return sum(map(bool, abstained)) / len(abstained), (accuracy(answered) if answered else None)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of ``candidate`` against ``reference`` as Google's ``rouge-score`` computes it (the scorer that
    published ROUGE figures use): lower-cased ASCII letter and digit tokens, no stemming, LCS-based precision
    and recall, ``2PR/(P+R)``; 0 when either text has no token.

    Raises:
        MissingDependencyError: rouge-score is not installed (extra ``eval``).
    """
    score = _rouge_scorer().score(reference, candidate)["rougeL"]  # rouge-score takes the target first
    return float(score.fmeasure)


@functools.cache
def _rouge_scorer() -> Any:
    return require("rouge_score.rouge_scorer", "eval").RougeScorer(["rougeL"])


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    Raises:
        ValueError: no values or ``q`` outside [0, 100].
    """
    if not values:
        raise ValueError("percentile needs at least one value, got none")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _resample_means(data: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 256):
        stop = min(n_boot, start + 256)
        means[start:stop] = data[rng.integers(0, len(data), size=(stop - start, len(data)))].mean(axis=1)
    return means


def _gold(gold: Iterable[str], k: int) -> set[str]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("retrieval metrics need at least one gold document id, got none")
    return gold_set


def _check(n_boot: int, level: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
