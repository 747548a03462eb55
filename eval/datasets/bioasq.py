"""BioASQ JSON: ``{"questions": [{id, body, type, documents, snippets, exact_answer, ideal_answer}]}``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.datasets.base import OnError, load_json, read_records, text_field
from eval.items import YES_NO, EvalItem
from ragmed.errors import IngestError

_PMID = re.compile(r"(\d+)/?$")


class BioASQAdapter:
    """Reads BioASQ training/test JSON.

    Yes/no questions become choice items (``A`` yes, ``B`` no); factoid, list and summary questions
    become open-ended items whose long answer is the first ideal answer. Document URLs
    (``http://www.ncbi.nlm.nih.gov/pubmed/123``) become gold ids ``pmid:123``; snippet texts form
    the oracle context.
    """

    name = "bioasq"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good question.

        Raises:
            IngestError: the file is not JSON or has no ``questions`` list.
        """
        data = load_json(path)
        questions = data.get("questions") if isinstance(data, dict) else None
        if not isinstance(questions, list):
            raise IngestError('expected an object with a "questions" list', location=str(path))
        records = (
            (f"{path}: question {q.get('id', i) if isinstance(q, dict) else i}", (i, q))
            for i, q in enumerate(questions, start=1)
        )
        return read_records(records, lambda loc, rec: _parse(loc, *rec), on_error)


def _parse(location: str, number: int, record: Any) -> EvalItem:
    if not isinstance(record, dict):
        raise IngestError(f"expected an object, got {type(record).__name__}", location=location)
    body = text_field(record, "body", location) or ""
    kind = str(record.get("type", "")).lower()
    gold = [_pmid(url, location) for url in record.get("documents") or []]
    snippets = [s["text"].strip() for s in record.get("snippets") or [] if isinstance(s, dict) and isinstance(s.get("text"), str)]
    ideal = record.get("ideal_answer")
    long_answer = (ideal[0] if ideal else None) if isinstance(ideal, list) else ideal
    options = answer = None
    if kind == "yesno":
        exact = record.get("exact_answer")
        exact = exact[0] if isinstance(exact, list) and exact else exact
        if not isinstance(exact, str) or exact.strip().lower() not in ("yes", "no"):
            raise IngestError(f"exact_answer of a yes/no question must be yes or no, got {exact!r:.40}", location=location)
        options, answer = dict(YES_NO), "A" if exact.strip().lower() == "yes" else "B"
    return EvalItem(
        id=str(record.get("id") or number),
        question=body,
        options=options,
        answer=answer,
        gold_doc_ids=gold,
        context=snippets or None,
        long_answer=long_answer.strip() if isinstance(long_answer, str) and long_answer.strip() else None,
        dataset="bioasq",
    )


def _pmid(url: Any, location: str) -> str:
    match = _PMID.search(str(url).strip())
    if not match:
        raise IngestError(f"document {url!r} is not a PubMed URL or PMID", location=location)
    return f"pmid:{match.group(1)}"
