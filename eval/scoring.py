"""Per-item scores computed when an item finishes; run summaries aggregate them."""

from __future__ import annotations

from typing import Any

from eval.items import EvalItem
from eval.metrics import (
    citation_precision,
    citation_recall,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    rouge_l,
)
from eval.predict import TRACE_DEPTH, Prediction


def score_item(item: EvalItem, prediction: Prediction, mode: str) -> dict[str, Any]:
    """Scores of one answered item; a score that does not apply to the item is left out.

    Returns:
        ``correct`` (choice items with gold), ``abstained``, ``recall_at`` (recall@1..10),
        ``mrr_at_10`` and ``ndcg_at_10`` (gold documents and retrieval), ``citation_precision``
        (gold documents and citations, rag mode), ``citation_recall`` (answer sentences),
        ``rouge_l`` (open-ended items with a reference answer that were answered).
    """
    scores: dict[str, Any] = {"abstained": prediction.abstained}
    if item.options and item.answer:
        scores["correct"] = prediction.choice == item.answer
    ranked = [r["doc_id"] for r in prediction.retrieved]
    if item.gold_doc_ids and ranked:
        scores["recall_at"] = [recall_at_k(ranked, item.gold_doc_ids, k) for k in range(1, TRACE_DEPTH + 1)]
        scores["mrr_at_10"] = mrr_at_k(ranked, item.gold_doc_ids, 10)
        scores["ndcg_at_10"] = ndcg_at_k(ranked, item.gold_doc_ids, 10)
    if mode == "rag" and item.gold_doc_ids and not prediction.abstained:
        precision = citation_precision([c["doc_id"] for c in prediction.citations], item.gold_doc_ids)
        if precision is not None:
            scores["citation_precision"] = precision
    if prediction.sentences and not prediction.abstained:
        scores["citation_recall"] = citation_recall(
            [(len(s["citations"]), bool(s["supported"])) for s in prediction.sentences])
    if not item.options and item.long_answer and prediction.answer and not prediction.abstained:
        scores["rouge_l"] = rouge_l(prediction.answer, item.long_answer)
    return scores
