"""Benchmark datasets: one adapter per format, name resolution and format sniffing; checksums by ragmed.hashing.

Example:
    >>> ds = load_dataset("pubmedqa")          # doctest: +SKIP
    >>> ds.items[0].options
    {'A': 'yes', 'B': 'no', 'C': 'maybe'}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from eval.datasets.base import Adapter
from eval.datasets.bioasq import BioASQAdapter
from eval.datasets.generic import GenericAdapter
from eval.datasets.mcq import MedMCQAAdapter, MedQAAdapter
from eval.datasets.medquad import MedQuADAdapter
from eval.datasets.mirage import MirageAdapter
from eval.datasets.pubmedqa import PubMedQAAdapter
from eval.items import EvalItem
from ragmed.config import default_knowledge
from ragmed.errors import ConfigError, IngestError
from ragmed.hashing import sha256_tree
from ragmed.types import RecordError

__all__ = ["ADAPTERS", "KNOWN", "Dataset", "default_data_root", "load_dataset", "resolve", "sniff"]

ADAPTERS: dict[str, type[Adapter]] = {
    a.name: a
    for a in (PubMedQAAdapter, MirageAdapter, MedQAAdapter, MedMCQAAdapter, MedQuADAdapter, BioASQAdapter, GenericAdapter)
}
KNOWN: dict[str, tuple[str, str]] = {
    "pubmedqa": ("pubmedqa/pqal_public_500.json", "pubmedqa"),
    "medquad": ("medquad", "medquad"),
}


@dataclass
class Dataset:
    """A loaded benchmark: its items, the records that were skipped and the file checksum."""

    name: str
    path: Path
    format: str
    items: list[EvalItem]
    checksum: str
    errors: list[RecordError] = field(default_factory=list)


def default_data_root() -> Path:
    """Where known dataset names live by default: the literature of the bundled starter knowledge.

    That is ``knowledge/literature`` of a source checkout (or of the current folder), and
    ``<prefix>/share/ragmed/knowledge/literature`` in an installed copy; ``ragmed.config.default_knowledge``
    finds it. It holds PubMedQA public 500 and MedQuAD subsets 4 and 9.
    """
    return default_knowledge().parent / "literature"


def resolve(name_or_path: str | Path, data_root: Path | None = None) -> tuple[Path, str | None]:
    """Turn a known dataset name (``pubmedqa``, ``medquad``) or a path into ``(path, format)``.

    The format is None for a path; ``sniff`` finds it.

    Raises:
        ConfigError: neither a known name nor an existing path.
    """
    key = str(name_or_path)
    if key.lower() in KNOWN:
        relative, fmt = KNOWN[key.lower()]
        path = (data_root or default_data_root()) / relative
        if not path.exists():
            raise ConfigError(f"dataset {key!r} is expected at {path}, which does not exist "
                              f"(--data-root names the folder that holds {relative!r})")
        return path, fmt
    path = Path(key).expanduser()
    if not path.exists():
        raise ConfigError(f"dataset {key!r} is neither a known name ({', '.join(sorted(KNOWN))}) nor an existing path")
    return path, None


def sniff(path: Path) -> str:
    """Guess the format of ``path`` from its shape.

    Raises:
        IngestError: the shape matches no supported format.
    """
    if path.is_dir() or path.suffix.lower() == ".xml":
        return "medquad"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        keys = _first_record(path)
        return "medmcqa" if "opa" in keys else "medqa" if "answer_idx" in keys else "jsonl"
    from eval.datasets.base import load_json

    data = load_json(path)
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        return "bioasq"
    first: object = next(iter(data.values()), None) if isinstance(data, dict) else None
    if isinstance(first, dict) and "QUESTION" in first:
        return "pubmedqa"
    if isinstance(first, dict) and all(isinstance(v, dict) for v in first.values()):
        return "mirage"
    raise IngestError(f"unrecognised benchmark format; pass one of {sorted(ADAPTERS)} as the format", location=str(path))


def load_dataset(name_or_path: str | Path, *, format: str | None = None, data_root: Path | None = None) -> Dataset:
    """Load every good item of a benchmark; bad records are collected in ``Dataset.errors``.

    Args:
        name_or_path: a known name or a file/folder path.
        format: force an adapter (see ``ADAPTERS``) instead of sniffing.
        data_root: where known names live; defaults to the bundled knowledge (``default_data_root``).

    Returns:
        The dataset; items keep file order; a repeated item id is reported and skipped.

    Raises:
        ConfigError: unknown name, missing path or unknown format.
        IngestError: the file cannot be read at all, or holds no usable item.
    """
    path, known_format = resolve(name_or_path, data_root)
    fmt = format or known_format or sniff(path)
    if fmt not in ADAPTERS:
        raise ConfigError(f"format must be one of {sorted(ADAPTERS)}, got {fmt!r}")
    errors: list[RecordError] = []
    items: list[EvalItem] = []
    seen: set[str] = set()
    for item in ADAPTERS[fmt]().read(path, errors.append):
        if item.id in seen:
            errors.append(RecordError(f"{path}: record {item.id}", "repeated id; later copy skipped"))
            continue
        seen.add(item.id)
        items.append(item)
    if not items:
        detail = f"; first problem: {errors[0]}" if errors else ""
        raise IngestError(f"no usable {fmt} item{detail}", location=str(path))
    name = str(name_or_path) if str(name_or_path).lower() in KNOWN else path.stem or path.name
    return Dataset(name=name, path=path, format=fmt, items=items, checksum=sha256_tree(path), errors=errors)


def _first_record(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise IngestError(f"first line is not JSON: {exc}", location=f"{path}:1") from exc
                return record if isinstance(record, dict) else {}
    raise IngestError("empty file", location=str(path))
