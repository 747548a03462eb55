"""The chunking stage: documents cut into passages that keep character offsets into the document text.

``Chunker`` is the interface; ``SentenceChunker`` (whole sentences within a token budget, by the
approximate word-piece count or a tokenizer's) is the backend ``make_chunker`` builds from
``ChunkingSettings``. ``tests/test_chunking.py`` holds the contract every chunker runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from ragmed.config import ChunkingSettings
from ragmed.text import approx_tokens, split_sentences
from ragmed.types import Chunk, Document


@runtime_checkable
class Chunker(Protocol):
    """Cuts a document into chunks.

    Every chunk satisfies ``document.text[chunk.start:chunk.end] == chunk.text``, carries the document's
    id, and chunks are numbered from 0 in document order; a document with no text gives no chunk.
    """

    name: str

    def chunk(self, document: Document) -> list[Chunk]:
        """The chunks of ``document`` in document order."""
        ...


class SentenceChunker:
    """Whole sentences packed into chunks within a token budget, never across a section boundary.

    Args:
        settings: token budget and overlap.
        count_tokens: token counter: the approximate word-piece count by default, or a tokenizer's.
    """

    name = "sentences"

    def __init__(self, settings: ChunkingSettings | None = None,
                 count_tokens: Callable[[str], int] = approx_tokens) -> None:
        self.settings = settings or ChunkingSettings()
        self.count_tokens = count_tokens

    def chunk(self, document: Document) -> list[Chunk]:
        return chunk_document(document, self.settings, self.count_tokens)


def make_chunker(settings: ChunkingSettings | None = None,
                 count_tokens: Callable[[str], int] = approx_tokens) -> Chunker:
    """The chunker the settings describe."""
    return SentenceChunker(settings, count_tokens)


def chunk_document(
    document: Document,
    settings: ChunkingSettings | None = None,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> list[Chunk]:
    """Split a document into chunks of whole sentences within a token budget.

    Chunks never cross a section boundary, keep their section label, and repeat the last
    ``overlap_sentences`` sentences of the previous chunk. ``document.text[chunk.start:chunk.end]``
    always equals ``chunk.text``. A sentence longer than the budget is cut at word boundaries.

    Args:
        document: the document to split.
        settings: token budget and overlap; defaults from ``ChunkingSettings``.
        count_tokens: token counter (defaults to an approximation of word pieces).

    Returns:
        The chunks in document order, numbered from 0.
    """
    settings = settings or ChunkingSettings()
    chunks: list[Chunk] = []
    for label, start, end in _sections(document):
        sentences = [(start + s, start + e) for s, e in split_sentences(document.text[start:end])]
        sentences = [piece for span in sentences for piece in _cut_long(document.text, span, settings.max_tokens, count_tokens)]
        for c_start, c_end in _pack(document.text, sentences, settings, count_tokens):
            chunks.append(
                Chunk(doc_id=document.id, ordinal=len(chunks), text=document.text[c_start:c_end],
                      start=c_start, end=c_end, section=label)
            )
    return chunks


def _sections(document: Document) -> Iterator[tuple[str | None, int, int]]:
    if not document.sections:
        yield None, 0, len(document.text)
        return
    position = 0
    for label, start, end in sorted(document.sections, key=lambda s: s[1]):
        if start > position and document.text[position:start].strip():
            yield None, position, start
        yield label, max(start, position), end
        position = max(position, end)
    if document.text[position:].strip():
        yield None, position, len(document.text)


def _cut_long(text: str, span: tuple[int, int], budget: int, count: Callable[[str], int]) -> list[tuple[int, int]]:
    start, end = span
    if count(text[start:end]) <= budget:
        return [span]
    pieces: list[tuple[int, int]] = []
    piece_start = start
    words_in_piece = 0
    limit = max(1, int(budget / 1.3) - 1)
    for index in range(start, end):
        if text[index].isspace() and (index == start or not text[index - 1].isspace()):
            words_in_piece += 1
            if words_in_piece >= limit:
                pieces.append((piece_start, index))
                piece_start, words_in_piece = index + 1, 0
    if end > piece_start:
        pieces.append((piece_start, end))
    return [(s, e) for s, e in pieces if text[s:e].strip()]


def _pack(text: str, sentences: list[tuple[int, int]], settings: ChunkingSettings,
          count: Callable[[str], int]) -> Iterator[tuple[int, int]]:
    index = 0
    while index < len(sentences):
        first = index
        tokens = 0
        while index < len(sentences):
            cost = count(text[sentences[index][0]:sentences[index][1]])
            if index > first and tokens + cost > settings.max_tokens:
                break
            tokens += cost
            index += 1
        yield sentences[first][0], sentences[index - 1][1]
        if index < len(sentences):
            back = min(settings.overlap_sentences, index - first - 1)
            index -= back
