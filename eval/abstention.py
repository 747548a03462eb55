"""Does ragmed abstain on questions its knowledge cannot answer, and answer the ones it can?

``eval/sets/abstention/questions.jsonl`` holds questions labelled ``answerable`` (the starter knowledge
answers them) or ``unanswerable`` (medical topics absent from it, and non-medical questions), split
into a dev half (thresholds were chosen on it) and a test half.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ragmed.jsonl import iter_jsonl

QUESTIONS = Path(__file__).resolve().parent / "sets" / "abstention" / "questions.jsonl"


def load_questions(split: str, path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The questions of ``split`` ("dev", "test" or "all").

    Raises:
        IngestError: the file is missing or a line is not a JSON object (file and line are named).
    """
    return [item for _, item in iter_jsonl(path) if split == "all" or item.get("split") == split]


def abstention_rates(engine: Any, split: str, generator: str = "extractive") -> dict[str, float]:
    """Ask every question of ``split``; count abstentions on unanswerable and answers on answerable ones."""
    questions = load_questions(split)
    counts = {"unanswerable": 0, "unanswerable_abstained": 0, "answerable": 0, "answerable_answered": 0}
    started = time.perf_counter()
    for item in questions:
        answer = engine.ask(item["question"], generator=generator)
        if item["label"] == "unanswerable":
            counts["unanswerable"] += 1
            counts["unanswerable_abstained"] += answer.abstained
        else:
            counts["answerable"] += 1
            counts["answerable_answered"] += not answer.abstained
    seconds = time.perf_counter() - started
    return {**counts, "abstain_rate": round(counts["unanswerable_abstained"] / max(counts["unanswerable"], 1), 4),
            "answer_rate": round(counts["answerable_answered"] / max(counts["answerable"], 1), 4),
            "seconds_per_question": round(seconds / max(len(questions), 1), 3)}
