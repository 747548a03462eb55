"""Compare two runs item by item: deltas with a paired bootstrap interval and p-value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.manifest import read_manifest
from eval.metrics import PairedDelta, paired_bootstrap
from eval.trace import TRACE, read_trace
from ragmed.errors import ConfigError

#: Per-item values compared, by name: how to read each from a record's metrics.
METRICS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "accuracy": lambda m: float(m["correct"]) if "correct" in m else None,
    "abstention": lambda m: float(bool(m.get("abstained"))),
    "recall@10": lambda m: m["recall_at"][-1] if m.get("recall_at") else None,
    "mrr@10": lambda m: m.get("mrr_at_10"),
    "ndcg@10": lambda m: m.get("ndcg_at_10"),
    "citation_precision": lambda m: m.get("citation_precision"),
    "citation_recall": lambda m: m.get("citation_recall"),
    "rouge_l": lambda m: m.get("rouge_l"),
}


@dataclass
class MetricDelta:
    """One metric compared over the items both runs scored."""

    metric: str
    dataset: str
    a: float
    b: float
    paired: PairedDelta


@dataclass
class Comparison:
    """Two runs side by side."""

    run_a: Path
    run_b: Path
    common: int
    only_a: int
    only_b: int
    same_dataset: bool
    deltas: list[MetricDelta]


def compare_runs(run_a: Path, run_b: Path, *, n_boot: int = 2000, seed: int = 0) -> Comparison:
    """Pair the items of two run folders by id and compare every metric both runs have.

    Returns:
        A ``Comparison``: one ``MetricDelta`` per metric (overall, then per dataset when there
        are several), ``b - a``.

    Raises:
        ConfigError: a folder is not a run or the runs share no item.
    """
    traces = []
    for folder in (run_a, run_b):
        if read_manifest(folder) is None or not (folder / TRACE).exists():
            raise ConfigError(f"{folder} is not a run folder (no manifest.json and trace.jsonl)")
        traces.append({r["id"]: r for r in read_trace(folder / TRACE)})
    a, b = traces
    common = [i for i in a if i in b]
    if not common:
        raise ConfigError(f"runs {run_a} and {run_b} share no item")
    checksums = [read_manifest(f)["run"].get("dataset_checksum") for f in (run_a, run_b)]  # type: ignore[index]
    datasets = sorted({a[i]["dataset"] for i in common})
    deltas: list[MetricDelta] = []
    for dataset in ["all", *datasets] if len(datasets) > 1 else datasets:
        ids = [i for i in common if dataset in ("all", a[i]["dataset"])]
        for name, read in METRICS.items():
            read_pairs = [(read(a[i].get("metrics", {})), read(b[i].get("metrics", {}))) for i in ids]
            pairs = [(x, y) for x, y in read_pairs if x is not None and y is not None]
            if not pairs:
                continue
            xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
            deltas.append(MetricDelta(name, dataset, sum(xs) / len(xs), sum(ys) / len(ys),
                                      paired_bootstrap(xs, ys, n_boot=n_boot, seed=seed)))
    return Comparison(run_a, run_b, len(common), len(a) - len(common), len(b) - len(common),
                      checksums[0] == checksums[1], deltas)


def render(comparison: Comparison) -> Any:
    """A ``rich`` table of the comparison."""
    from rich.table import Table

    table = Table(title=f"B - A  (A = {comparison.run_a}, B = {comparison.run_b}; {comparison.common} paired items)")
    for column in ("metric", "dataset", "A", "B", "delta", "95% CI", "p", "n"):
        table.add_column(column, justify="left" if column in ("metric", "dataset") else "right")
    for d in comparison.deltas:
        p = d.paired
        table.add_row(d.metric, d.dataset, f"{d.a:.4f}", f"{d.b:.4f}", f"{p.delta:+.4f}",
                      f"[{p.low:+.4f}, {p.high:+.4f}]", f"{p.p_value:.4f}", str(p.n))
    return table
