"""Run reports: Markdown (plots as files beside it) and one self-contained HTML page (plots inline)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.plots import accuracy_plot, latency_plot, recall_plot

#: Published reference points (see PRODUCT.md), shown beside results on the same sets.
ANCHORS = {
    "pubmedqa": ["majority class (yes) 55.2", "leaderboard top (reasoning required) 82.0"],
    "mirage": ["GPT-4 + MedRAG 79.97 (average of five sets)", "GPT-3.5 + MedRAG 71.57", "GPT-3.5 without retrieval 60.69"],
}


#: Plot files a report writes under ``plots/``.
PLOT_FILES = ("plots/accuracy.png", "plots/recall_at_k.png", "plots/latency.png")


def tables(manifest: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables as ``(title, header, rows)``, shared by Markdown and HTML."""
    run, dataset = manifest.get("run", {}), manifest.get("dataset", {})
    what = "baseline " + run["baseline"] if run.get("baseline") else f"{run.get('generator')} / {run.get('mode')}"
    env = manifest.get("environment", {})
    info = [["dataset", (f"{dataset.get('name')} ({dataset.get('format')}), {dataset.get('selected')} of "
             f"{dataset.get('items')} items, {dataset.get('skipped_records', 0)} bad records skipped")],
            ["dataset sha256", str(dataset.get("sha256"))], ["system", what],
            ["retrieval", str(run.get("retrieval") or manifest.get("settings", {}).get("retrieval", {}).get("mode", "-"))],
            ["seed / limit", f"{run.get('seed')} / {run.get('limit') or 'all'}"],
            ["index", (f"{manifest.get('index', {}).get('name', '-')} (manifest sha256 "
             f"{manifest.get('index', {}).get('manifest_sha256') or '-'})")],
            ["models", _models(manifest.get("models", {}))],
            ["ragmed", f"{env.get('ragmed_version')} at {env.get('git_commit') or 'no git commit'}"],
            ["completed", f"{summary.get('n')} of {dataset.get('selected')} items, {summary.get('errors', 0)} errors"
             + ("" if summary.get("n") == dataset.get("selected") else " (incomplete: the same command resumes it)")]]
    out = [("Run", ["", ""], info)]
    groups = {**summary.get("datasets", {}), **({"all": summary["overall"]} if len(summary.get("datasets", {})) > 1 else {})}
    acc = [[name, _pct(g["accuracy"]["value"]), f"{_pct(g['accuracy']['low'])} - {_pct(g['accuracy']['high'])}",
            str(g["accuracy"]["n"]), _pct(g.get("abstention_rate")), _pct(g.get("accuracy_answered"))]
           for name, g in groups.items() if g.get("accuracy")]
    if acc:
        out.append(("Accuracy", ["dataset", "accuracy %", "95% CI", "n", "abstained %", "accuracy answered %"], acc))
    ret = [[name, *(_pct(g["recall_at"][k - 1]) if len(g["recall_at"]) >= k else "-" for k in (1, 5, 10)),
            _num(g.get("mrr_at_10")), _num(g.get("ndcg_at_10")), str(g.get("retrieval_n"))]
           for name, g in groups.items() if g.get("recall_at")]
    if ret:
        out.append(("Retrieval (gold documents)", ["dataset", "recall@1 %", "recall@5 %", "recall@10 %", "MRR@10",
                                                   "nDCG@10", "n"], ret))
    ans = [[name, _pct(g.get("citation_precision")), _pct(g.get("citation_recall")), _num(g.get("rouge_l")),
            _pct(g.get("abstention_rate"))]
           for name, g in groups.items() if any(k in g for k in ("citation_precision", "citation_recall", "rouge_l"))]
    if ans:
        out.append(("Answers and citations", ["dataset", "citation precision %", "citation recall %", "ROUGE-L",
                                              "abstained %"], ans))
    lat = [[stage, f"{v['p50']:.1f}", f"{v['p95']:.1f}", f"{v['mean']:.1f}", str(v["n"])]
           for stage, v in summary.get("latency_ms", {}).items()]
    if lat:
        out.append(("Latency per stage (ms)", ["stage", "p50", "p95", "mean", "n"], lat))
    tok = summary.get("tokens_generated", {})
    if tok.get("total"):
        out.append(("Tokens generated", ["total", "mean per item", "per second"],
                    [[str(tok.get("total", 0)), f"{tok.get('mean', 0):.1f}", _num(tok.get("per_second"), 1)]]))
    anchors = [[a] for key, lines in ANCHORS.items() for a in lines
               if any(key in name.lower() for name in summary.get("datasets", {})) or key == dataset.get("format")]
    if anchors:
        out.append(("Published reference points (accuracy %)", ["anchor"], anchors))
    return out


def plots(summary: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """The report's PNG plots by file name (only those with data)."""
    groups = summary.get("datasets", {})
    stages: dict[str, list[float]] = {}
    for record in records:
        for key, value in (record.get("prediction", {}).get("timings") or {}).items():
            if key in ("total_s", "choose_s", "answer_s", "retrieval_s", "generation_s"):
                stages.setdefault(key[:-2], []).append(float(value) * 1000)
    made = {"accuracy.png": accuracy_plot(groups),
            "recall_at_k.png": recall_plot({n: g.get("recall_at") or [] for n, g in groups.items()}),
            "latency.png": latency_plot(stages)}
    return {name: png for name, png in made.items() if png}


def write_reports(folder: Path, manifest: dict[str, Any], summary: dict[str, Any],
                  records: Sequence[dict[str, Any]]) -> tuple[Path, Path]:
    """Write ``report.md`` (with ``plots/*.png``) and the self-contained ``report.html``.

    Returns:
        The Markdown and HTML paths.
    """
    sections, images = tables(manifest, summary), plots(summary, records)
    (folder / "plots").mkdir(exist_ok=True)
    for stale in PLOT_FILES:
        (folder / stale).unlink(missing_ok=True)
    for name, png in images.items():
        (folder / "plots" / name).write_bytes(png)
    title = f"ragmed evaluation: {manifest.get('dataset', {}).get('name')}"
    md = [f"# {title}", ""]
    for heading, header, rows in sections:
        md += [f"## {heading}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        md += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows] + [""]
    md += [f"![{name}](plots/{name})" for name in images] + [""]
    md_path = folder / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    html_path = folder / "report.html"
    html_path.write_text(_html(title, sections, images), encoding="utf-8")
    return md_path, html_path


def _html(title: str, sections: list[tuple[str, list[str], list[list[str]]]], images: dict[str, bytes]) -> str:
    esc = html.escape
    parts = [(f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block;margin:1em 0}"
             f"</style></head><body><h1>{esc(title)}</h1>")]
    for heading, header, rows in sections:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        parts.append(f"<h2>{esc(heading)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    for name, png in images.items():
        data = base64.b64encode(png).decode()
        parts.append(f"<img alt=\"{esc(name)}\" src=\"data:image/png;base64,{data}\">")
    return "".join(parts) + "</body></html>\n"


def _models(models: dict[str, Any]) -> str:
    parts = []
    for role in ("embedding", "generator"):
        model = models.get(role) or {}
        if model:
            digest = f" sha256 {str(model['sha256'])[:12]}" if model.get("sha256") else ""
            parts.append(f"{role} {model.get('id') or model.get('backend')}{digest}")
    return "; ".join(parts) or "-"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
