"""Report plots rendered with matplotlib's Agg canvas (no display, no global pyplot state) as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any


def _figure(width: float = 6.0, height: float = 3.6) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def accuracy_plot(groups: dict[str, dict[str, Any]]) -> bytes | None:
    """Bars of accuracy per dataset with their 95% bootstrap intervals; None without accuracy."""
    rows = [(name, g["accuracy"]) for name, g in groups.items() if g.get("accuracy")]
    if not rows:
        return None
    figure, axes = _figure(max(5.0, 1.2 * len(rows) + 2), 3.6)
    values = [a["value"] * 100 for _, a in rows]
    lower = [max(0.0, (a["value"] - a["low"]) * 100) for _, a in rows]
    upper = [max(0.0, (a["high"] - a["value"]) * 100) for _, a in rows]
    axes.bar(range(len(rows)), values, yerr=[lower, upper], capsize=6, color="#4c72b0", width=0.6)
    axes.set_xticks(range(len(rows)), [f"{name}\n(n={a['n']})" for name, a in rows])
    axes.set_xlim(-0.8, len(rows) - 0.2)
    axes.set_ylim(0, 100)
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Accuracy (95% bootstrap CI)")
    for x, (v, up) in enumerate(zip(values, upper)):
        axes.text(x, min(v + up + 2, 94), f"{v:.1f}", ha="center")
    return _png(figure)


def recall_plot(curves: Mapping[str, Sequence[float]]) -> bytes | None:
    """Recall@k for k = 1..len(curve), one line per curve; None without curves."""
    curves = {name: c for name, c in curves.items() if c}
    if not curves:
        return None
    figure, axes = _figure()
    for name, curve in curves.items():
        axes.plot(range(1, len(curve) + 1), [v * 100 for v in curve], marker="o", label=name)
    axes.set_xlabel("k (distinct documents)")
    axes.set_ylabel("recall@k (%)")
    axes.set_ylim(0, 104)
    axes.set_title("Recall of gold documents")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    return _png(figure)


def latency_plot(stages: Mapping[str, Sequence[float]]) -> bytes | None:
    """Histograms of per-item latency (milliseconds) for each stage; None without timings."""
    stages = {name: v for name, v in stages.items() if v}
    if not stages:
        return None
    figure, axes = _figure()
    top = max(max(v) for v in stages.values())
    edges = [top * i / 30 for i in range(31)] if top > 0 else 30
    for name, values in stages.items():
        median = sorted(values)[len(values) // 2]
        axes.hist(values, bins=edges, alpha=0.45, histtype="stepfilled", label=f"{name} (median {median:.0f} ms)")
    axes.set_xlabel("milliseconds")
    axes.set_ylabel("items")
    axes.set_title("Latency per item and stage")
    axes.legend()
    return _png(figure)
