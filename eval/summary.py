"""Aggregate a run's trace into the figures its report shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from eval.metrics import abstention, bootstrap_ci, mean_or_none, percentile


def summarize(records: Sequence[dict[str, Any]], *, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """Overall and per-dataset figures, latency per stage and tokens generated.

    Args:
        records: trace records (see ``eval.runner``).
        seed: bootstrap seed, so a summary is reproducible.
        n_boot: bootstrap resamples.

    Returns:
        ``{"n", "errors", "overall": group, "datasets": {name: group}, "latency_ms": {stage: {...}},
        "tokens_generated": {...}}`` where a group holds ``accuracy`` (value, low, high, n),
        ``abstention_rate``, ``accuracy_answered``, ``recall_at`` (mean recall@1..10), ``mrr_at_10``,
        ``ndcg_at_10``, ``citation_precision``, ``citation_recall`` and ``rouge_l`` where they apply.
    """
    datasets = sorted({r["dataset"] for r in records})
    return {
        "n": len(records),
        "errors": sum(1 for r in records if r.get("error")),
        "overall": group(records, seed=seed, n_boot=n_boot),
        "datasets": {d: group([r for r in records if r["dataset"] == d], seed=seed, n_boot=n_boot) for d in datasets},
        "latency_ms": latency(records),
        "tokens_generated": tokens(records),
    }


def group(records: Sequence[dict[str, Any]], *, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """The figures of one set of records (see ``summarize``)."""
    scores = [r.get("metrics", {}) for r in records]
    out: dict[str, Any] = {"n": len(records)}
    if not scores:
        return out
    choice = [s for s in scores if "correct" in s]
    if choice:
        out["accuracy"] = asdict(bootstrap_ci([float(s["correct"]) for s in choice], seed=seed, n_boot=n_boot))
        _rate, answered = abstention([bool(s.get("abstained")) for s in choice], [bool(s["correct"]) for s in choice])
        out["accuracy_answered"] = answered
    out["abstention_rate"] = sum(bool(s.get("abstained")) for s in scores) / len(scores)
    curves = [s["recall_at"] for s in scores if s.get("recall_at")]
    if curves:
        out["recall_at"] = [sum(c[i] for c in curves) / len(curves) for i in range(len(curves[0]))]
        out["retrieval_n"] = len(curves)
    for name in ("mrr_at_10", "ndcg_at_10", "citation_precision", "citation_recall", "rouge_l"):
        values = [s.get(name) for s in scores]
        value = mean_or_none(values)
        if value is not None:
            out[name] = value
            out[f"{name}_n"] = sum(v is not None for v in values)
    return out


def latency(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50, p95 and mean in milliseconds of every timed stage (``*_s`` keys of the timings)."""
    stages: dict[str, list[float]] = {}
    for record in records:
        for key, value in (record.get("prediction", {}).get("timings") or {}).items():
            if key.endswith("_s") and isinstance(value, (int, float)):
                stages.setdefault(key[:-2], []).append(float(value) * 1000)
    return {stage: {"p50": percentile(v, 50), "p95": percentile(v, 95), "mean": sum(v) / len(v), "n": len(v)}
            for stage, v in sorted(stages.items())}


def tokens(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Total tokens generated, the mean per item, and the rate over generation time where timed."""
    counts = [int(r.get("prediction", {}).get("tokens_generated") or 0) for r in records]
    total = sum(counts)
    seconds = sum(float((r.get("prediction", {}).get("timings") or {}).get("generation_s", 0.0)) for r in records)
    out = {"total": total, "mean": total / len(counts) if counts else 0.0}
    if seconds > 0:
        out["per_second"] = total / seconds
    return out
