"""Plain typed objects passed between the stages of the flow.

sources -> ``Document`` -> chunking -> ``Chunk`` -> index -> retrieval -> ``Passage``
-> generation -> citation check -> ``Answer`` (with ``Citation``, ``Concept``, ``SafetyFlag`` and any
``SkippedShard`` a partial search left out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ragmed.hashing import sha256_text

Audience = Literal["clinician", "public"]


@dataclass
class Document:
    """One source record with its provenance.

    Example:
        >>> Document(id="pmid:1", source="pubmed", title="T", text="Body.").year
    """

    id: str
    source: str
    title: str
    text: str
    url: str | None = None
    licence: str | None = None
    date: str | None = None
    doc_type: str | None = None
    language: str = "en"
    sections: list[tuple[str, int, int]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def year(self) -> int | None:
        """The four-digit year at the start of ``date``, if any."""
        if self.date and len(self.date) >= 4 and self.date[:4].isdigit():
            return int(self.date[:4])
        return None

    @property
    def hash(self) -> str:
        """Content hash over everything that changes what gets indexed."""
        return sha256_text("\x1f".join([self.title, self.text, self.url or "", self.date or ""]))


@dataclass
class Chunk:
    """A sentence-aligned piece of a document; ``start``/``end`` index into ``Document.text``."""

    doc_id: str
    ordinal: int
    text: str
    start: int
    end: int
    section: str | None = None
    id: int | None = None

    @property
    def hash(self) -> str:
        return sha256_text(self.text)


@dataclass
class Passage:
    """A retrieved chunk with its score and the provenance of its document."""

    chunk_id: int
    doc_id: str
    text: str
    score: float
    start: int
    end: int
    title: str = ""
    source: str = ""
    url: str | None = None
    licence: str | None = None
    date: str | None = None
    section: str | None = None
    doc_type: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Citation:
    """One numbered citation: the source and the exact supporting sentence with its span.

    ``start``/``end`` index into the cited document's text, so ``document.text[start:end]``
    equals ``sentence``.
    """

    n: int
    doc_id: str
    chunk_id: int
    title: str
    sentence: str
    start: int
    end: int
    url: str | None = None
    source: str = ""
    licence: str | None = None
    score: float = 0.0
    curie: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Concept:
    """An ontology concept linked in a question or an answer."""

    curie: str
    label: str
    codes: dict[str, list[str]] = field(default_factory=dict)
    synonyms: list[str] = field(default_factory=list)
    definition: str | None = None
    source: str = ""
    version: str | None = None
    mention: str | None = None
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SafetyFlag:
    """A safety finding: an emergency red flag, a declined request, a disclaimer, or injected text.

    ``rule`` names what was found (the emergency category, ``dosing``/``diagnosis``, ``passage:N``);
    ``source`` and ``url`` name the public page the guidance comes from.
    """

    kind: Literal["emergency", "declined", "disclaimer", "injection"]
    message: str
    rule: str = ""
    source: str = ""
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SkippedShard:
    """An index shard left out of a search that the other shards answered (``index.allow_partial``).

    ``reason`` is the error that left it out, naming the shard's folder and what is wrong with it.
    """

    name: str
    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AnswerSentence:
    """One sentence of an answer with the citation numbers that back it."""

    text: str
    citations: list[int] = field(default_factory=list)
    supported: bool = True
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """A cited answer. Filled by the extractive answerer and by every generator backend.

    ``text`` carries ``[n]`` markers; each ``n`` is the ``n`` of one item in ``citations``. ``skipped_shards``
    names the shards of a shard set that were left out of its retrieval (the answer comes from the others).
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    sentences: list[AnswerSentence] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    concepts: list[Concept] = field(default_factory=list)
    flags: list[SafetyFlag] = field(default_factory=list)
    abstained: bool = False
    audience: Audience = "clinician"
    generator: str = "extractive"
    fallback_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    index_revision: int | None = None
    choice: str | None = None
    skipped_shards: list[SkippedShard] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RecordError:
    """A record that could not be ingested: where it is and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class FlaggedText:
    """Text of an ingested document that reads like an instruction to the model or the reader: it is kept
    with the document (``metadata["injection"]``) and never quoted, cited, shown as a title or prompted."""

    doc_id: str
    field: str
    start: int
    end: int
    score: float = 1.0

    def __str__(self) -> str:
        return f"{self.doc_id} {self.field}[{self.start}:{self.end}]"


@dataclass
class IngestReport:
    """Counts of one ingest run; ``errors`` name every skipped record, ``flagged`` every instruction found
    in the documents added or updated."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    chunks_cached: int = 0
    errors: list[RecordError] = field(default_factory=list)
    flagged: list[FlaggedText] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [str(e) for e in self.errors]
        return data


@dataclass
class LeadEvent:
    """Streamed first: emergency guidance and, for the public, why a personal request is declined."""

    text: str
    flags: list[SafetyFlag] = field(default_factory=list)
    type: Literal["lead"] = "lead"


@dataclass
class SentenceEvent:
    """One answer sentence that passed the citation check, with the citations it uses for the first time."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    type: Literal["sentence"] = "sentence"


@dataclass
class DraftEvent:
    """Unchecked model text, streamed only to clinicians who ask for the draft; never part of the answer."""

    text: str
    type: Literal["draft"] = "draft"


@dataclass
class AnswerEvent:
    """The final checked answer; always the last event of a stream."""

    answer: Answer
    type: Literal["answer"] = "answer"


StreamEvent = LeadEvent | SentenceEvent | DraftEvent | AnswerEvent
"""What ``Engine.stream`` yields: a lead (if any), checked sentences (and drafts on request), then the answer."""
