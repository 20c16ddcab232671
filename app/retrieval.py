"""Hybrid retrieval: dense (FAISS inner product) + BM25, fused by reciprocal rank, with a pillar filter
and per-section diversity. Exposed as a langchain BaseRetriever so the chain, the UI and ragas share it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, TypeVar

import numpy as np
from langchain_community.docstore.in_memory import InMemoryDocstore
from langchain_community.vectorstores import FAISS
from langchain_community.vectorstores.utils import DistanceStrategy
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict
from rank_bm25 import BM25Okapi

from ingest.documents import Chunk
from ingest.embed import SentenceEmbedder
from ingest.store import StoredIndex

Mode = Literal["hybrid", "dense", "bm25"]
T = TypeVar("T")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the and or of to in on for with by from as at is are was were be been being it its this that these those "
    "how what which who whom why when where do does did should can could would i we you my our your their they "
    "into about than then there here not no so if".split()
)


def bm25_tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


@dataclass
class ScoredChunk:
    chunk: Chunk
    dense_score: float | None  # cosine similarity to the question, when the dense side ranked it
    rrf_score: float
    position: int  # row in the index


class GuidanceIndex:
    """The loaded index: chunks, the langchain FAISS vector store built from our own files, and BM25."""

    def __init__(self, stored: StoredIndex, embedder: SentenceEmbedder):
        self.stored = stored
        self.embedder = embedder
        self.chunks = stored.chunks
        documents = {c.chunk_id: _to_document(c) for c in self.chunks}
        self.vector_store = FAISS(
            embedding_function=embedder,
            index=stored.vectors,
            docstore=InMemoryDocstore(documents),
            index_to_docstore_id={i: c.chunk_id for i, c in enumerate(self.chunks)},
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.bm25 = BM25Okapi([bm25_tokens(c.embed_text) for c in self.chunks]) if self.chunks else None

    @property
    def manifest(self) -> dict:
        return self.stored.manifest

    def dense(self, query_vector: np.ndarray, k: int, pillar: str | None) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        keep = (lambda meta: pillar in meta["pillars"]) if pillar else None
        hits = self.vector_store.similarity_search_with_score_by_vector(
            query_vector.tolist(), k=k, filter=keep, fetch_k=k * 8 if pillar else k
        )
        return [(self.position[doc.metadata["chunk_id"]], float(score)) for doc, score in hits]

    def lexical(self, query: str, k: int, pillar: str | None) -> list[int]:
        tokens = bm25_tokens(query)
        if self.bm25 is None or not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        if pillar:
            scores = np.where([pillar in c.pillars for c in self.chunks], scores, -np.inf)
        order = np.argsort(-scores)[:k]
        return [int(i) for i in order if scores[i] > 0]


class GuidanceRetriever(BaseRetriever):
    """What the assistant, the chain, the review and the evaluation need of any index backend: `search` with
    scores, and langchain Documents with the same metadata. FAISS (below) and Azure AI Search
    (app.azure_retrieval) implement `search`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    top_k: int = 5
    candidate_k: int = 40
    max_per_section: int = 1
    mode: Mode = "hybrid"
    pillar: str | None = None

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
            document = _to_document(hit.chunk)
            document.metadata.update(dense_score=hit.dense_score, rrf_score=hit.rrf_score)
            documents.append(document)
        return documents


class HybridRetriever(GuidanceRetriever):
    index: GuidanceIndex
    rrf_k: int = 60

    def search(
        self, query: str, pillar: str | None = None, k: int | None = None, query_vector: np.ndarray | None = None
    ) -> list[ScoredChunk]:
        pillar = pillar or self.pillar
        k = k or self.top_k
        fused: dict[int, float] = {}
        dense_scores: dict[int, float] = {}
        if self.mode in ("hybrid", "dense"):
            vector = query_vector if query_vector is not None else self.index.embedder.encode([query])[0]
            for rank, (position, score) in enumerate(self.index.dense(vector, self.candidate_k, pillar)):
                dense_scores[position] = score
                fused[position] = fused.get(position, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        if self.mode in ("hybrid", "bm25"):
            for rank, position in enumerate(self.index.lexical(query, self.candidate_k, pillar)):
                fused[position] = fused.get(position, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return [
            ScoredChunk(self.index.chunks[position], dense_scores.get(position), score, position)
            for position, score in self.diverse(ranked, lambda pair: self.index.chunks[pair[0]], k)
        ]


def _to_document(chunk: Chunk) -> Document:
    return Document(page_content=chunk.text, metadata={"chunk_id": chunk.chunk_id, **chunk.citation_metadata()})
