"""Does ragmed abstain on questions its knowledge cannot answer, and answer the ones it can?

``eval/sets/abstention/questions.jsonl`` holds questions labelled ``answerable`` (the starter knowledge
answers them) or ``unanswerable`` (medical topics absent from it, and non-medical questions), split
into a dev half (thresholds were chosen on it) and a test half.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ragmed.errors import ConfigError

QUESTIONS = Path(__file__).resolve().parent / "sets" / "abstention" / "questions.jsonl"


def load_questions(split: str, path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The questions of ``split`` ("dev", "test" or "all").

    Raises:
        ConfigError: the file is missing or a line is not JSON (named by line).
    """
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: not JSON: {exc}") from exc
        if split == "all" or item.get("split") == split:
            out.append(item)
    return out


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
