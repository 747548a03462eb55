"""Chunking keeps sentence boundaries, section labels and exact character offsets."""

from __future__ import annotations

import json

import pytest

from ragmed.chunking import Chunker, SentenceChunker, chunk_document, make_chunker
from ragmed.config import ChunkingSettings
from ragmed.text import approx_tokens, points_back, split_sentences
from ragmed.types import Document

pytestmark = pytest.mark.unit


def _pubmedqa_documents(data_dir, n=40):  # type: ignore[no-untyped-def]
    records = json.loads((data_dir / "pubmedqa" / "pqal_public_500.json").read_text())
    docs = []
    for pmid, record in list(records.items())[:n]:
        text, sections = "", []
        for label, context in zip(record["LABELS"], record["CONTEXTS"]):
            start = len(text)
            text += context + "\n\n"
            sections.append((label, start, start + len(context)))
        docs.append(Document(id=f"pmid:{pmid}", source="pubmedqa", title=record["QUESTION"], text=text, sections=sections))
    return docs


def test_chunk_text_equals_document_span_on_real_abstracts(data_dir):
    for doc in _pubmedqa_documents(data_dir):
        chunks = chunk_document(doc, ChunkingSettings(max_tokens=80, overlap_sentences=1))
        assert chunks, doc.id
        for chunk in chunks:
            assert doc.text[chunk.start:chunk.end] == chunk.text
            assert chunk.section in {label for label, _, _ in doc.sections}


def test_chunks_respect_budget_and_cover_every_sentence(data_dir):
    settings = ChunkingSettings(max_tokens=60, overlap_sentences=0)
    for doc in _pubmedqa_documents(data_dir, 20):
        chunks = chunk_document(doc, settings)
        covered = "".join(c.text for c in chunks).replace(" ", "").replace("\n", "")
        assert covered == doc.text.replace(" ", "").replace("\n", "")
        for chunk in chunks:
            sentences = split_sentences(chunk.text)
            assert len(sentences) == 1 or approx_tokens(chunk.text) <= settings.max_tokens


def test_overlap_repeats_the_last_sentence():
    text = " ".join(f"Sentence number {i} talks about insulin resistance in adults." for i in range(12))
    doc = Document(id="d", source="s", title="t", text=text)
    chunks = chunk_document(doc, ChunkingSettings(max_tokens=40, overlap_sentences=1))
    assert len(chunks) > 2
    for first, second in zip(chunks, chunks[1:]):
        last_sentence = first.text[split_sentences(first.text)[-1][0]:]
        assert second.text.startswith(last_sentence)


def test_overlong_sentence_is_cut_at_words_with_offsets():
    text = "word " * 500
    doc = Document(id="d", source="s", title="t", text=text.strip())
    chunks = chunk_document(doc, ChunkingSettings(max_tokens=50, overlap_sentences=0))
    assert len(chunks) > 5
    assert all(approx_tokens(c.text) <= 50 for c in chunks)
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)


def test_sentence_splitter_keeps_abbreviations_and_decimals():
    text = "Smith et al. reported a 3.5 mg/dL rise, e.g. in adults. Thirst is common! Is it? Yes."
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == ["Smith et al. reported a 3.5 mg/dL rise, e.g. in adults.", "Thirst is common!", "Is it?", "Yes."]


# --- the contract every chunker runs -------------------------------------------------------------------

class ChunkerContract:
    """What every ``Chunker`` must do, on real abstracts. A backend's class defines ``make(max_tokens)`` and
    ``count(text)`` (the tokens it budgets by)."""

    def make(self, max_tokens: int) -> Chunker:
        raise NotImplementedError

    def count(self, text: str) -> int:
        raise NotImplementedError

    def test_is_a_chunker(self) -> None:
        chunker = self.make(80)
        assert isinstance(chunker, Chunker) and chunker.name

    def test_offsets_ordinals_and_ids(self, data_dir) -> None:  # type: ignore[no-untyped-def]
        chunker = self.make(80)
        for doc in _pubmedqa_documents(data_dir, 15):
            chunks = chunker.chunk(doc)
            assert chunks, doc.id
            assert [c.ordinal for c in chunks] == list(range(len(chunks)))
            assert {c.doc_id for c in chunks} == {doc.id}
            assert all(doc.text[c.start:c.end] == c.text and c.text.strip() for c in chunks)
            assert [c.start for c in chunks] == sorted(c.start for c in chunks)

    def test_every_word_is_in_a_chunk_within_the_budget(self, data_dir) -> None:  # type: ignore[no-untyped-def]
        chunker = self.make(60)
        for doc in _pubmedqa_documents(data_dir, 15):
            chunks = chunker.chunk(doc)
            covered = [False] * len(doc.text)
            for c in chunks:
                covered[c.start:c.end] = [True] * (c.end - c.start)
                assert len(split_sentences(c.text)) == 1 or self.count(c.text) <= 60, c.text
            missed = "".join(ch for ch, seen in zip(doc.text, covered) if not seen)
            assert not missed.strip(), missed[:200]

    def test_no_text_gives_no_chunk(self) -> None:
        chunker = self.make(80)
        assert chunker.chunk(Document(id="empty", source="s", title="t", text="")) == []
        assert chunker.chunk(Document(id="blank", source="s", title="t", text=" \n\n ")) == []

    def test_the_same_document_gives_the_same_chunks(self, data_dir) -> None:  # type: ignore[no-untyped-def]
        doc = _pubmedqa_documents(data_dir, 1)[0]
        assert self.make(50).chunk(doc) == self.make(50).chunk(doc)


class TestSentenceChunkerApproximateTokens(ChunkerContract):
    def make(self, max_tokens: int) -> Chunker:
        return make_chunker(ChunkingSettings(max_tokens=max_tokens, overlap_sentences=1))

    def count(self, text: str) -> int:
        return approx_tokens(text)


class TestSentenceChunkerEmbeddingTokenizer(ChunkerContract):
    """Budgeted by the embedding model's own word-piece tokenizer."""

    @pytest.fixture(autouse=True)
    def _tokenizer(self) -> None:
        from transformers import AutoTokenizer

        from ragmed.config import EmbeddingSettings
        from ragmed.embedding.base import resolve_model_path

        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(EmbeddingSettings().model))
        self._count = lambda text: len(tokenizer.tokenize(text))

    def make(self, max_tokens: int) -> Chunker:
        return SentenceChunker(ChunkingSettings(max_tokens=max_tokens, overlap_sentences=0), self._count)

    def count(self, text: str) -> int:
        return int(self._count(text))


def test_a_sentence_that_points_back_is_told_from_one_that_opens_with_a_like_word() -> None:
    for back in ("It causes a rash.", "These are the cells that make insulin.", "If you do, you will need insulin.",
                 "If you have it, your bone marrow makes too few cells.", "If not, see a doctor.", "Both kinds hurt."):
        assert points_back(back), back
    for plain in ("Itching is common.", "These days, a blood test can show it.", "Those with diabetes need care.",
                  "If not treated, it spreads.", "If you have one of these symptoms, call 911.", "Thistle is a plant."):
        assert not points_back(plain), plain
