"""Chunking keeps sentence boundaries, section labels and exact character offsets."""

from __future__ import annotations

import json

import pytest

from ragmed.chunking import chunk_document
from ragmed.config import ChunkingSettings
from ragmed.text import approx_tokens, split_sentences
from ragmed.types import Document

pytestmark = pytest.mark.unit


def _pubmedqa_documents(data_dir, n=40):  # type: ignore[no-untyped-def]
    records = json.loads((data_dir / "pubmedqa" / "pqal_public_500.json").read_text())
    docs = []
    for pmid, record in list(records.items())[:n]:
        text, sections, position = "", [], 0
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
