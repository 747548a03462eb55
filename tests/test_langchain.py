"""RagmedRetriever works as a LangChain retriever, alone and inside an LCEL chain."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")

from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from ragmed.langchain import RagmedRetriever

pytestmark = pytest.mark.integration


def test_retriever_returns_documents_with_provenance(small_engine):
    retriever = RagmedRetriever(engine=small_engine, k=3, mode="hybrid")
    docs = retriever.invoke("What are the symptoms of diabetes?")
    assert len(docs) == 3
    first = docs[0]
    assert first.metadata["doc_id"] and first.metadata["title"] and first.metadata["source"]
    assert small_engine.get_document(first.metadata["doc_id"]).text[first.metadata["start"]:first.metadata["end"]] == first.page_content
    async_docs = asyncio.run(retriever.ainvoke("What are the symptoms of diabetes?"))
    assert [d.metadata["chunk_id"] for d in async_docs] == [d.metadata["chunk_id"] for d in docs]


def test_retriever_inside_an_lcel_chain(small_engine):
    retriever = RagmedRetriever(engine=small_engine, k=2, filters={"sources": ["pubmedqa"]})
    prompt = PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    format_docs = RunnableLambda(lambda docs: "\n".join(f"[{d.metadata['doc_id']}] {d.page_content}" for d in docs))
    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt
    text = chain.invoke("Does mammography screening increase?").to_string()
    assert "Question: Does mammography screening increase?" in text
    assert text.count("[pmid:") == 2
