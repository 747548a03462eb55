"""Every evaluation metric against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    abstention,
    accuracy,
    bootstrap_ci,
    citation_precision,
    citation_recall,
    dedupe,
    mrr_at_k,
    ndcg_at_k,
    paired_bootstrap,
    percentile,
    recall_at_k,
    rouge_l,
)
from eval.summary import group, latency, tokens

pytestmark = pytest.mark.unit


def test_accuracy_counts_true_values() -> None:
    assert accuracy([True, False, True, True]) == 0.75
    with pytest.raises(ValueError, match="at least one"):
        accuracy([])


def test_bootstrap_interval_of_constant_values_is_the_value() -> None:
    est = bootstrap_ci([1.0, 1.0, 1.0], n_boot=200, seed=1)
    assert (est.value, est.low, est.high, est.n) == (1.0, 1.0, 1.0, 3)


def test_bootstrap_interval_of_two_items_spans_all_resample_means() -> None:
    # Resamples of [0, 1] have means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5th percentile is 0 and the 97.5th is 1.
    est = bootstrap_ci([0.0, 1.0], n_boot=4000, seed=0)
    assert est.value == 0.5
    assert (est.low, est.high) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_interval_brackets_the_mean() -> None:
    values = [1.0] * 55 + [0.0] * 45
    a, b = bootstrap_ci(values, seed=7), bootstrap_ci(values, seed=7)
    assert a == b
    # Normal approximation: 0.55 +- 1.96 * sqrt(0.55 * 0.45 / 100) = 0.55 +- 0.0975.
    assert a.low == pytest.approx(0.4525, abs=0.03) and a.high == pytest.approx(0.6475, abs=0.03)


def test_paired_bootstrap_of_identical_runs_has_no_difference() -> None:
    result = paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1], n_boot=500)
    assert (result.delta, result.low, result.high, result.p_value, result.n) == (0.0, 0.0, 0.0, 1.0, 4)


def test_paired_bootstrap_of_a_uniformly_better_run() -> None:
    result = paired_bootstrap([0, 0, 0, 0, 0], [1, 1, 1, 1, 1], n_boot=500)
    assert (result.delta, result.low, result.high, result.p_value) == (1.0, 1.0, 1.0, 0.0)


def test_paired_bootstrap_of_one_disagreement_in_two_items() -> None:
    # Differences b - a = [1, 0]; resampled means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    # P(mean <= 0) = 1/4, so the two-sided p-value is 2 * 1/4 = 0.5.
    result = paired_bootstrap([0, 1], [1, 1], n_boot=20000, seed=3)
    assert result.delta == 0.5
    assert result.p_value == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap([1], [1, 0])


def test_recall_mrr_ndcg_on_a_ranking_with_repeated_documents() -> None:
    # Passages of one document repeat; documents count once, in first-seen order: x, g1, y, g2.
    ranked = ["x", "x", "g1", "y", "g1", "g2"]
    gold = ["g1", "g2"]
    assert dedupe(ranked) == ["x", "g1", "y", "g2"]
    assert recall_at_k(ranked, gold, 1) == 0.0
    assert recall_at_k(ranked, gold, 2) == 0.5
    assert recall_at_k(ranked, gold, 4) == 1.0
    assert mrr_at_k(ranked, gold, 10) == 0.5
    assert mrr_at_k(ranked, gold, 1) == 0.0
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068; IDCG = 1 + 1/log2(3) = 1.63093.
    assert ndcg_at_k(ranked, gold, 4) == pytest.approx((0.630930 + 0.430677) / 1.630930, abs=1e-5)
    assert ndcg_at_k(["g1"], ["g1"], 10) == 1.0
    with pytest.raises(ValueError, match="gold"):
        recall_at_k(ranked, [], 5)
    with pytest.raises(ValueError, match="k must"):
        mrr_at_k(ranked, gold, 0)


def test_ndcg_with_one_gold_at_rank_three() -> None:
    assert ndcg_at_k(["a", "b", "g"], ["g"], 10) == pytest.approx(1 / math.log2(4))  # 0.5


def test_citation_precision_and_recall() -> None:
    assert citation_precision(["pmid:1", "pmid:9", "pmid:1"], ["pmid:1"]) == pytest.approx(2 / 3)
    assert citation_precision([], ["pmid:1"]) is None
    # Sentences: cited and supported; cited but unsupported; supported but citing nothing.
    assert citation_recall([(1, True), (2, False), (0, True)]) == pytest.approx(1 / 3)
    assert citation_recall([]) is None


def test_abstention_rate_and_accuracy_on_answered() -> None:
    rate, answered = abstention([False, True, False, False], [True, False, False, True])
    assert rate == 0.25
    assert answered == pytest.approx(2 / 3)
    assert abstention([True], [False]) == (1.0, None)


def test_rouge_l_matches_published_rouge_score_values() -> None:
    # rouge-score's own README example: target of 9 tokens, prediction of 8, LCS "the quick brown jumps the" = 5:
    # P = 5/8 = 0.625, R = 5/9, F = 2PR/(P+R) = 10/17 = 0.5882...
    assert rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog") == \
        pytest.approx(10 / 17)
    # "the cat sat on the mat" vs "the cat is on the mat": LCS "the cat on the mat" = 5 of 6 and 6.
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    # Candidate of 3 tokens, reference of 6, LCS 3: P = 1, R = 0.5, F1 = 2/3.
    assert rouge_l("insulin lowers glucose", "insulin in the blood lowers glucose") == pytest.approx(2 / 3)
    # rouge-score's tokenisation: punctuation splits tokens, so "metformin's" and "7.5" are two tokens each and
    # match the spaced-out reference exactly.
    assert rouge_l("Metformin's target: HbA1c 7.5%", "metformin s target hba1c 7 5") == 1.0
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("alpha", "beta") == 0.0


def test_percentile_interpolates_linearly() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)  # rank 0.95 * 3 = 2.85 -> 30 + 0.85 * 10
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(values, 101)


def test_group_summary_aggregates_item_scores() -> None:
    records = [
        {"metrics": {"correct": True, "abstained": False, "recall_at": [0.0, 1.0], "mrr_at_10": 0.5}},
        {"metrics": {"correct": False, "abstained": True, "recall_at": [1.0, 1.0], "mrr_at_10": 1.0}},
        {"metrics": {"correct": True, "abstained": False}},
        {"metrics": {"correct": False, "abstained": False, "rouge_l": 0.4}},
    ]
    g = group(records, n_boot=200)
    assert g["accuracy"]["value"] == 0.5
    assert g["abstention_rate"] == 0.25
    assert g["accuracy_answered"] == pytest.approx(2 / 3)
    assert g["recall_at"] == [0.5, 1.0] and g["retrieval_n"] == 2
    assert g["mrr_at_10"] == 0.75 and g["rouge_l"] == 0.4 and g["rouge_l_n"] == 1


def test_latency_and_tokens_per_stage() -> None:
    records = [{"prediction": {"timings": {"total_s": t, "generation_s": g}, "tokens_generated": n}}
               for t, g, n in [(0.1, 0.05, 10), (0.2, 0.1, 20), (0.3, 0.1, 30), (0.4, 0.25, 40)]]
    lat = latency(records)
    assert lat["total"]["p50"] == pytest.approx(250.0)
    assert lat["total"]["p95"] == pytest.approx(385.0)  # 300 + 0.85 * 100
    assert lat["generation"]["n"] == 4
    tok = tokens(records)
    assert tok == {"total": 100, "mean": 25.0, "per_second": pytest.approx(200.0)}  # 100 tokens / 0.5 s
