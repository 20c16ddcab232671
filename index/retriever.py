"""What every index backend's retriever offers: `search` with scores, and langchain Documents with the same
metadata, so the assistant, the chain, the review and the evaluation do not depend on the backend."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.documents import Chunk

Mode = Literal["hybrid", "dense", "bm25"]
T = TypeVar("T")


@dataclass
class ScoredChunk:
    chunk: Chunk
    dense_score: float | None  # cosine similarity to the question; None when only BM25 found it (rank fusion, bm25 mode)
    fused_score: float
    position: int  # row in the index


class GuidanceRetriever(BaseRetriever):
    """What the assistant, the chain, the review and the evaluation need of any index backend: `search` with
    scores, and langchain Documents with the same metadata. FAISS (below) and Azure AI Search
    (index.azure_search.retriever) implement `search`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    top_k: int = 5
    candidate_k: int = 40
    max_per_section: int = 1
    mode: Mode = "hybrid"
    pillar: str | None = None

    @staticmethod
    def options(settings) -> dict:
        """The retrieval settings every backend's retriever takes."""
        return {
            "top_k": settings.top_k,
            "candidate_k": settings.candidate_k,
            "max_per_section": settings.max_chunks_per_section,
        }

    def search(
        self, query: str, pillar: str | None = None, k: int | None = None, query_vector: np.ndarray | None = None
    ) -> list[ScoredChunk]:
        raise NotImplementedError

    def diverse(self, ranked: Iterable[T], chunk_of: Callable[[T], Chunk], k: int) -> list[T]:
        """The first k of `ranked` with at most max_per_section chunks of one section, so the top-k is not
        one section repeated."""
        per_section: dict[tuple, int] = {}
        kept: list[T] = []
        for item in ranked:
            chunk = chunk_of(item)
            section = (chunk.source_key, tuple(chunk.heading_path))
            if per_section.get(section, 0) >= self.max_per_section:
                continue
            per_section[section] = per_section.get(section, 0) + 1
            kept.append(item)
            if len(kept) == k:
                break
        return kept

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        documents = []
        for hit in self.search(query):
            document = to_document(hit.chunk)
            document.metadata.update(dense_score=hit.dense_score, fused_score=hit.fused_score)
            documents.append(document)
        return documents


def to_document(chunk: Chunk) -> Document:
    return Document(page_content=chunk.text, metadata={"chunk_id": chunk.chunk_id, **chunk.citation_metadata()})
