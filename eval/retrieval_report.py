"""Tables and files for the retrieval evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.retrieval import KS, RetrievalReport

HEADER = ["dataset", "mode", *(f"recall@{k}" for k in KS), "MRR@10", "nDCG@10", "p50 ms", "p95 ms", "queries", "documents"]


def rows(reports: list[RetrievalReport]) -> list[list[str]]:
    """One row per dataset and mode, figures as text."""
    out = []
    for report in reports:
        for r in report.rows:
            out.append([r.dataset, r.mode, *(f"{r.recall[k]:.3f}" for k in KS), f"{r.mrr_at_10:.3f}",
                        f"{r.ndcg_at_10:.3f}", f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}", str(r.n), str(report.documents)])
    return out


def checks(report: RetrievalReport) -> list[str]:
    """Whether hybrid beats dense-only and BM25-only, and hybrid's latency relative to dense."""
    by = {r.mode: r for r in report.rows}
    if not {"dense", "bm25", "hybrid"} <= set(by):
        return []
    h, d, b = by["hybrid"], by["dense"], by["bm25"]

    def beats(get: Callable[[Any], float]) -> bool:
        return bool(get(h) > max(get(d), get(b)))

    return [(f"{report.dataset}: hybrid beats dense and BM25 on recall@10: {beats(lambda r: r.recall[10])}; "
            f"on MRR@10: {beats(lambda r: r.mrr_at_10)}; hybrid/dense latency p50 {h.p50_ms / d.p50_ms:.2f}x, "
            f"p95 {h.p95_ms / d.p95_ms:.2f}x")]


def table(reports: list[RetrievalReport]) -> Any:
    """A ``rich`` table of every report, with the checks as its caption."""
    from rich.table import Table

    result = Table(title="Known-item retrieval", caption="\n".join(c for r in reports for c in checks(r)))
    for column in HEADER:
        result.add_column(column, justify="left" if column in ("dataset", "mode") else "right")
    for row in rows(reports):
        result.add_row(*row)
    return result


def write_results(folder: Path, reports: list[RetrievalReport]) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` under ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "results.json", folder / "results.md"
    json_path.write_text(json.dumps([asdict(r) for r in reports], indent=2), encoding="utf-8")
    lines = ["# Known-item retrieval", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(reports)]
    lines += ["", *(f"- {c}" for r in reports for c in checks(r)), ""]
    lines += [f"- {r.dataset}: index `{r.index}`, {r.documents} documents, {r.queries} queries; build {r.build}"
              for r in reports]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return json_path, md_path
