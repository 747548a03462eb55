"""``ragmed eval citations``: how well each verifier backend tells supported claims from the rest.

A gold file is JSONL, one claim per line: ``question``, ``claim``, ``evidence``, ``evidence_title``, ``label``
(``supported``, ``unsupported`` or ``wrong_topic``), optionally ``split`` and ``doc_id``. Each backend scores
every claim against its evidence in the context of its question, with the ontology topic check when a
concept store is given (the same check answers get), and is judged on whether it accepts exactly the
supported claims: precision, recall and F1 of "supported", and how many wrong-topic claims it accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ragmed.cite import CitationChecker, sentences_of
from ragmed.index.docstore import PASSAGE_META
from ragmed.jsonl import iter_jsonl
from ragmed.types import Document, Passage, RecordError
from ragmed.verify.base import Verifier
from ragmed.verify.topic import TopicJudge

LABELS = ("supported", "unsupported", "wrong_topic")
GOLD = Path(__file__).resolve().parent / "sets" / "citations" / "gold.jsonl"


@dataclass(frozen=True)
class GoldClaim:
    """One labelled claim."""

    question: str
    claim: str
    evidence: str
    evidence_title: str
    label: str
    split: str = ""
    doc_id: str = ""


@dataclass
class BackendScores:
    """One backend's verdicts on one set."""

    backend: str
    n: int
    precision: float
    recall: float
    f1: float
    accepted_wrong_topic: int
    wrong_topic: int
    seconds_per_claim: float


@dataclass
class CitationReport:
    """Scores per backend and set, and the records that could not be read."""

    sets: dict[str, list[BackendScores]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    abstention: dict[str, float] | None = None

    def to_dict(self) -> dict[str, object]:
        return {"sets": {k: [asdict(s) for s in v] for k, v in self.sets.items()}, "errors": self.errors,
                "abstention": self.abstention}


def read_gold(path: Path, errors: list[RecordError]) -> list[GoldClaim]:
    """Claims of a gold file; a bad line is reported with file, line and field, and the rest still read.

    Raises:
        IngestError: the file cannot be read at all.
    """
    out = []
    for where, item in iter_jsonl(path, errors.append):
        missing = [k for k in ("claim", "evidence", "label") if not isinstance(item.get(k), str) or not item[k].strip()]
        if missing:
            errors.append(RecordError(where, f"field {missing[0]!r} is missing or empty"))
            continue
        if item["label"] not in LABELS:
            errors.append(RecordError(where, f"field 'label' must be one of {', '.join(LABELS)}, got {item['label']!r}"))
            continue
        out.append(GoldClaim(str(item.get("question") or ""), item["claim"], item["evidence"],
                             str(item.get("evidence_title") or ""), item["label"], str(item.get("split") or ""),
                             str(item.get("doc_id") or "")))
    return out


def verdicts(verifier: Verifier, claims: Sequence[GoldClaim], threshold: float,
             topic: TopicJudge | None = None, documents: Callable[[str], Document | None] | None = None) -> list[bool]:
    """Whether each claim comes through the citation check unchanged, checked exactly as an answer citing its
    evidence is (cut into sentences, items and clauses; the topic and named-condition checks; the contrast
    rules); a claim the check trims, or any of whose sentences it drops, is not accepted as written.

    ``documents`` looks a claim's ``doc_id`` up in the index, so that its passage carries what a search result
    carries (the document's source and the conditions it is about, found when it was indexed)."""
    checker = CitationChecker(verifier, threshold, topic)
    accepted: list[bool] = []
    for c in claims:
        conditions = topic.conditions(c.question) if topic is not None and c.question else set()
        stored = documents(c.doc_id) if documents is not None and c.doc_id else None
        passage = Passage(chunk_id=-1, doc_id=c.doc_id, text=c.evidence, score=1.0, start=0, end=len(c.evidence),
                          title=c.evidence_title, source=stored.source if stored else "",
                          metadata={k: stored.metadata[k] for k in PASSAGE_META if k in stored.metadata} if stored else {})
        session = checker.session([passage], c.question, conditions)
        checked = [session.add(f"{sentence} [1]") for sentence in sentences_of(c.claim)]
        accepted.append(bool(checked) and all(k is not None and k.text is not None and not k.trimmed for k in checked))
    return accepted


def score(backend: str, verifier: Verifier, claims: Sequence[GoldClaim], threshold: float,
          topic: TopicJudge | None = None, documents: Callable[[str], Document | None] | None = None) -> BackendScores:
    """Precision, recall and F1 of accepted claims against the ``supported`` label."""
    started = time.perf_counter()
    accepted = verdicts(verifier, claims, threshold, topic, documents)
    seconds = time.perf_counter() - started
    gold = [c.label == "supported" for c in claims]
    tp = sum(a and g for a, g in zip(accepted, gold))
    precision = tp / max(sum(accepted), 1)
    recall = tp / max(sum(gold), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    wrong = [a for a, c in zip(accepted, claims) if c.label == "wrong_topic"]
    return BackendScores(backend, len(claims), round(precision, 4), round(recall, 4), round(f1, 4), sum(wrong),
                         len(wrong), round(seconds / max(len(claims), 1), 4))


def format_table(report: CitationReport) -> str:
    """The report as a Markdown table."""
    lines = ["| set | backend | n | precision | recall | F1 | wrong-topic accepted | ms per claim |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rows in report.sets.items():
        for r in rows:
            lines.append(f"| {name} | {r.backend} | {r.n} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | "
                         f"{r.accepted_wrong_topic} of {r.wrong_topic} | {1000 * r.seconds_per_claim:.1f} |")
    return "\n".join(lines)
