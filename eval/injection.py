"""``ragmed eval injection``: the injection detector on the labelled passages
(``eval/sets/injection/passages.jsonl``).

A passage counts as flagged when any sentence or hiding place of its text, or its title, is flagged, as
at ingest. Reported: detection recall on injected passages, false flags on clean ones (overall, per
language and per technique family) and the time per passage.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragmed.errors import ConfigError, IngestError
from ragmed.jsonl import iter_jsonl
from ragmed.safety.injection import InjectionDetector

INJECTION_SET = Path("eval/sets/injection/passages.jsonl")


@dataclass(frozen=True)
class InjectionItem:
    """One labelled passage: ``label`` is ``injected`` or ``clean``."""

    id: str
    title: str
    text: str
    label: str
    language: str
    technique: str
    split: str


@dataclass
class Tally:
    """Injected passages detected and clean passages flagged, in one group."""

    injected: int = 0
    detected: int = 0
    clean: int = 0
    flagged: int = 0


@dataclass
class InjectionReport:
    """The detector's figures on one split."""

    split: str
    n: int
    recall: float = 0.0
    false_flag_rate: float = 0.0
    total: Tally = field(default_factory=Tally)
    languages: dict[str, Tally] = field(default_factory=dict)
    techniques: dict[str, Tally] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    false_flags: list[str] = field(default_factory=list)
    p50_ms: float = 0.0
    p95_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_passages(path: Path, split: str = "test") -> list[InjectionItem]:
    """The passages of ``split`` (``dev``, ``test`` or ``all``).

    Raises:
        ConfigError: an unknown split.
        IngestError: the file is missing or a line is malformed (file and line are named).
    """
    if split not in ("dev", "test", "all"):
        raise ConfigError(f"split must be dev, test or all, got {split!r}")
    items = []
    for location, r in iter_jsonl(path):
        try:
            item = InjectionItem(r["id"], r.get("title", ""), r["text"], r["label"], r.get("language", ""),
                                 r.get("technique", ""), r["split"])
        except KeyError as exc:
            raise IngestError(f"not an injection item (no field {exc})", location=location) from exc
        if split in ("all", item.split):
            items.append(item)
    return items


def evaluate_injection(detector: InjectionDetector, items: list[InjectionItem], split: str = "test") -> InjectionReport:
    """Scan every passage's title and text and tally the outcomes."""
    report = InjectionReport(split=split, n=len(items))
    times = []
    for item in items:
        started = time.perf_counter()
        flagged = bool(detector.find(item.title)) or bool(detector.find(item.text))
        times.append((time.perf_counter() - started) * 1000)
        family = item.technique.split(":")[0] if item.label == "injected" else "clean"
        for tally in (report.total, report.languages.setdefault(item.language, Tally()),
                      report.techniques.setdefault(family, Tally())):
            if item.label == "injected":
                tally.injected += 1
                tally.detected += flagged
            else:
                tally.clean += 1
                tally.flagged += flagged
        if item.label == "injected" and not flagged:
            report.misses.append(item.id)
        if item.label != "injected" and flagged:
            report.false_flags.append(item.id)
    t = report.total
    report.recall = t.detected / t.injected if t.injected else 0.0
    report.false_flag_rate = t.flagged / t.clean if t.clean else 0.0
    report.languages = dict(sorted(report.languages.items()))
    report.techniques = dict(sorted(report.techniques.items()))
    if times:
        report.p50_ms, report.p95_ms = (round(float(v), 3) for v in np.percentile(times, [50, 95]))
    return report


def render(report: InjectionReport) -> str:
    """The report as Markdown tables."""
    t = report.total
    lines = [f"Injection detection, {report.split} split, {report.n} passages", "",
             "| measure | value |", "|---|---|",
             f"| detection recall (injected passages) | {report.recall:.3f} ({t.detected}/{t.injected}) |",
             f"| false flags (clean passages) | {report.false_flag_rate:.3f} ({t.flagged}/{t.clean}) |",
             f"| time per passage (p50 / p95 ms) | {report.p50_ms:.2f} / {report.p95_ms:.2f} |", "",
             "| language | injected detected | clean flagged |", "|---|---|---|"]
    for lang, g in report.languages.items():
        lines.append(f"| {lang} | {g.detected}/{g.injected} | {g.flagged}/{g.clean} |")
    lines += ["", "| technique | detected |", "|---|---|"]
    lines += [f"| {name} | {g.detected}/{g.injected} |" for name, g in report.techniques.items() if g.injected]
    if report.misses or report.false_flags:
        lines += ["", f"missed: {', '.join(report.misses) or '-'}; false flags: {', '.join(report.false_flags) or '-'}"]
    return "\n".join(lines)


POISONED_SET = Path("eval/sets/injection/poisoned_docs.jsonl")


@dataclass
class PoisonedReport:
    """The poisoned documents, indexed and asked about: flagged at ingest, and what the answers showed."""

    split: str
    generator: str
    n: int = 0
    flagged_at_ingest: int = 0
    answers_showing_instruction: list[str] = field(default_factory=list)
    answers_citing_document: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shows(planted: str, shown: str) -> bool:
    """True when the answer shows the planted instruction (or a long piece of it)."""
    words = planted.split()
    pieces = [" ".join(words[i:i + 6]) for i in range(0, max(len(words) - 5, 1), 3)]
    return any(piece and piece.casefold() in shown.casefold() for piece in pieces)


def evaluate_poisoned(settings: Any, path: Path = POISONED_SET, split: str = "test", generator: str = "extractive",
                      folder: Path | None = None) -> PoisonedReport:
    """Index the poisoned documents of ``split`` in a fresh index, ask each one's question as the public,
    and count the answers whose text, cited sentences or citation titles show the planted instruction.

    Args:
        settings: ``Settings``; the index goes under ``folder`` (a temporary folder when None).
        generator: the generator backend to answer with.
    """
    import tempfile

    from ragmed.engine import Engine
    from ragmed.types import Document

    rows = [r for _, r in iter_jsonl(path) if split in ("all", r.get("split"))]
    report = PoisonedReport(split=split, generator=generator, n=len(rows))
    with tempfile.TemporaryDirectory() as tmp:
        root = folder or Path(tmp)
        local = settings.model_copy(update={"index": settings.index.model_copy(update={"root": root})})
        engine = Engine.create(local, "poisoned")
        try:
            ingest = engine.add([Document(id=r["id"], source="poisoned", title=r["title"], text=r["text"]) for r in rows])
            report.flagged_at_ingest = len({f.doc_id for f in ingest.flagged})
            for r in rows:
                answer = engine.ask(r["question"], audience="public", generator=generator)
                shown = " ".join([answer.text, *(c.sentence + " " + c.title for c in answer.citations)])
                if _shows(r["planted"], shown):
                    report.answers_showing_instruction.append(r["id"])
                report.answers_citing_document += any(c.doc_id == r["id"] for c in answer.citations)
        finally:
            engine.close()
    return report
