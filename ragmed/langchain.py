"""LangChain integration: ``RagmedRetriever``, a ``langchain_core`` retriever over a ragmed index.

Install with ``pip install 'ragmed[langchain]'``.

Example:
    >>> from ragmed.langchain import RagmedRetriever
    >>> retriever = RagmedRetriever(engine=Engine.open(), k=4, mode="hybrid")
    >>> docs = retriever.invoke("What causes asthma?")
"""

from __future__ import annotations

from typing import Any

from ragmed.errors import require

_core = require("langchain_core.retrievers", "langchain")
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document as LCDocument  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from ragmed.types import Passage  # noqa: E402


def to_langchain(passage: Passage) -> LCDocument:
    """A LangChain ``Document`` whose metadata carries the passage's provenance and scores."""
    metadata = {
        "doc_id": passage.doc_id, "chunk_id": passage.chunk_id, "title": passage.title, "source": passage.source,
        "url": passage.url, "licence": passage.licence, "date": passage.date, "section": passage.section,
        "start": passage.start, "end": passage.end, "score": passage.score, "scores": dict(passage.scores),
    }
    return LCDocument(page_content=passage.text, metadata=metadata, id=str(passage.chunk_id))


class RagmedRetriever(BaseRetriever):
    """Retrieves passages from a ragmed ``Engine`` (dense, BM25 or hybrid, with filters)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any
    k: int = 5
    mode: str | None = None
    filters: dict[str, Any] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [to_langchain(p) for p in self.engine.search(query, k=self.k, mode=self.mode, filters=self.filters)]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun) -> list[LCDocument]:
        import anyio

        passages = await anyio.to_thread.run_sync(
            lambda: self.engine.search(query, k=self.k, mode=self.mode, filters=self.filters))
        return [to_langchain(p) for p in passages]
