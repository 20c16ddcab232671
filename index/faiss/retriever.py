"""Hybrid retrieval: dense (FAISS inner product) + BM25 (bm25s), fused by reciprocal rank, with a pillar filter
and per-section diversity. Exposed as a langchain BaseRetriever so the chain, the UI and ragas share it."""
from __future__ import annotations

import numpy as np
from langchain_community.docstore.in_memory import InMemoryDocstore
from langchain_community.vectorstores import FAISS
from langchain_community.vectorstores.utils import DistanceStrategy

from core.embeddings import SentenceEmbedder
from core.lexical import LexicalIndex
from index.faiss.store import StoredIndex
from index.retriever import GuidanceRetriever, ScoredChunk, to_document


class GuidanceIndex:
    """The loaded index: chunks, the langchain FAISS vector store built from our own files, and BM25."""

    def __init__(self, stored: StoredIndex, embedder: SentenceEmbedder):
        self.stored = stored
        self.embedder = embedder
        self.chunks = stored.chunks
        documents = {c.chunk_id: to_document(c) for c in self.chunks}
        self.vector_store = FAISS(
            embedding_function=embedder,
            index=stored.vectors,
            docstore=InMemoryDocstore(documents),
            index_to_docstore_id={i: c.chunk_id for i, c in enumerate(self.chunks)},
            distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
        )
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.lexical_index = LexicalIndex([c.embed_text for c in self.chunks])
        self._pillar_masks: dict[str, np.ndarray] = {}

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
        return self.lexical_index.top(query, k, self.pillar_mask(pillar) if pillar else None)

    def pillar_mask(self, pillar: str) -> np.ndarray:
        if pillar not in self._pillar_masks:
            self._pillar_masks[pillar] = np.array([pillar in c.pillars for c in self.chunks], dtype=bool)
        return self._pillar_masks[pillar]


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


