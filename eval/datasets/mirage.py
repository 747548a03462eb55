"""The MIRAGE ``benchmark.json`` format: ``{dataset: {qid: {question, options, answer}}}``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.datasets.base import (
    OnError,
    load_json,
    options_field,
    read_records,
    text_field,
)
from eval.items import EvalItem, letter_for
from ragmed.errors import IngestError


class MirageAdapter:
    """Reads MIRAGE-format multiple choice (MedQA, MedMCQA, MMLU-Med, PubMedQA*, BioASQ yes/no).

    Item ids are ``<dataset>:<qid>`` so question ids may repeat across the sets. Gold documents come
    from an optional ``PMID`` field (a PMID or a list of them) and, for ``pubmedqa*`` sets whose
    question ids are PMIDs, from the id itself.
    """

    name = "mirage"

    def read(self, path: Path, on_error: OnError) -> Iterator[EvalItem]:
        """Yield one item per good question.

        Raises:
            IngestError: the file is not JSON or not an object of datasets.
        """
        data = load_json(path)
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise IngestError("expected {dataset: {question id: {...}}}", location=str(path))
        records = (
            (f"{path}: {dataset}/{qid}", (dataset, qid, record))
            for dataset, questions in data.items()
            for qid, record in questions.items()
        )
        return read_records(records, lambda loc, rec: _parse(loc, *rec), on_error)


def _parse(location: str, dataset: str, qid: str, record: Any) -> EvalItem:
    if not isinstance(record, dict):
        raise IngestError(f"expected an object, got {type(record).__name__}", location=location)
    question = text_field(record, "question", location) or ""
    options = options_field(record.get("options"), location)
    raw = text_field(record, "answer", location) or ""
    answer = letter_for(options, raw)
    if answer is None:
        raise IngestError(f"answer {raw!r} is not one of the options {sorted(options)}", location=location)
    return EvalItem(
        id=f"{dataset}:{qid}",
        question=question,
        options=options,
        answer=answer,
        gold_doc_ids=_pmids(record.get("PMID"), dataset, str(qid)),
        dataset=dataset,
    )


def _pmids(value: Any, dataset: str, qid: str) -> list[str]:
    values = value if isinstance(value, list) else [value] if value is not None else []
    ids = [f"pmid:{str(v).strip()}" for v in values if str(v).strip().isdigit()]
    if not ids and dataset.lower().startswith("pubmedqa") and qid.isdigit():
        ids = [f"pmid:{qid}"]
    return ids
