"""PubMedQA (ori_pqal-style JSON keyed by PMID) as yes/no/maybe items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.datasets.base import OnError, load_json, read_records, text_field
from eval.items import YES_NO_MAYBE, EvalItem
from ragmed.errors import IngestError

_LETTER = {text: letter for letter, text in YES_NO_MAYBE.items()}


class PubMedQAAdapter:
    """Reads ``{pmid: {QUESTION, CONTEXTS, final_decision, LONG_ANSWER, ...}}``.

    Each record becomes a yes/no/maybe item whose gold document is ``pmid:<PMID>`` and whose
    oracle context is its ``CONTEXTS`` (the abstract without its conclusion).
    """

    name = "pubmedqa"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good record.

        Raises:
            IngestError: the file is not JSON or not an object keyed by PMID.
        """
        data = load_json(path)
        if not isinstance(data, dict):
            raise IngestError(f"expected an object keyed by PMID, got {type(data).__name__}", location=str(path))
        records = ((f"{path}: record {pmid}", (pmid, record)) for pmid, record in data.items())
        return read_records(records, lambda loc, rec: _parse(loc, *rec), on_error)


def _parse(location: str, pmid: str, record: Any) -> EvalItem:
    if not isinstance(record, dict):
        raise IngestError(f"expected an object, got {type(record).__name__}", location=location)
    question = text_field(record, "QUESTION", location)
    decision = (text_field(record, "final_decision", location) or "").lower()
    if decision not in _LETTER:
        raise IngestError(f"final_decision must be yes, no or maybe, got {decision!r}", location=location)
    contexts = record.get("CONTEXTS")
    if not isinstance(contexts, list) or not contexts or not all(isinstance(c, str) for c in contexts):
        raise IngestError(f"CONTEXTS must be a non-empty list of strings, got {contexts!r:.60}", location=location)
    return EvalItem(
        id=str(pmid),
        question=question or "",
        options=dict(YES_NO_MAYBE),
        answer=_LETTER[decision],
        gold_doc_ids=[f"pmid:{pmid}"],
        context=list(contexts),
        long_answer=text_field(record, "LONG_ANSWER", location, required=False),
        dataset="pubmedqa",
    )
