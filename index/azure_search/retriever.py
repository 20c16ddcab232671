"""Retrieval from Azure AI Search (WAF_INDEX_BACKEND=azure-search), with the FAISS retriever's contract.

AzureSearchRetriever.search(query, pillar=None, k=None, query_vector=None) -> list[ScoredChunk], like
index.faiss.retriever.HybridRetriever, and a langchain BaseRetriever with the same Document metadata, so the
assistant, the chain, the review and the evaluation do not change:

- One hybrid query: the question as text (BM25 over content, title and heading path) plus the question's
  vector (HNSW, cosine) for `candidate_k` neighbours, fused by the service (reciprocal rank fusion), with
  the pillar as a filter (`pillars/any(p: p eq '...')`, applied before the vector search). With
  WAF_AZURE_SEARCH_SEMANTIC_CONFIG set the semantic ranker re-orders the fused results.
- The same per-section diversity as FAISS is applied to the fused list, then the top-k kept.
- ScoredChunk.dense_score is the exact cosine similarity of the question and the chunk (the vector is read
  back with the result; normalized vectors, so a dot product), the number the FAISS side reports and the
  relevance threshold was calibrated on. (The service's own @search.score is the fused RRF score in a hybrid
  query, and for a pure vector query with the cosine metric it is 1 / (2 - cosine), so cosine = 2 - 1/score.)
  If the index does not return vectors (a field made non-retrievable), the kept chunks are encoded locally.
- ScoredChunk.fused_score is the service's score (the semantic reranker score when that ranker ran).
- ScoredChunk.position is the rank in this result list: there are no index rows, and no precomputed sentence
  vectors, so the extractive answerer and the citation checker encode the quoted sentences instead
  (`sentence_vectors` is None).
"""
from __future__ import annotations

import re
from functools import cached_property
from types import SimpleNamespace

import numpy as np

from index.azure_search.store import (
    CHUNK_FIELDS,
    VECTOR_FIELD,
    AzureSearchError,
    AzureSearchStore,
    check_index_model,
    check_settings,
    document_to_chunk,
    pillar_filter,
    vector_dimension,
)
from index.errors import IndexMissing
from index.retriever import GuidanceRetriever, ScoredChunk

# Operators of the simple query syntax; a question is plain words, so they are dropped rather than obeyed.
_OPERATORS = re.compile(r'[+|"()*~\\]|(?:^|(?<=\s))-')


def text_query(question: str) -> str:
    return " ".join(_OPERATORS.sub(" ", question).split())


class AzureSearchIndex:
    """What the assistant needs of an index (embedder, manifest, chunks, stored.sentences) over the service."""

    sentences = None  # no precomputed sentence vectors: answers encode the quoted sentences

    def __init__(self, store: AzureSearchStore, embedder, manifest: dict, vectors_retrievable: bool = True):
        self.store = store
        self.embedder = embedder
        self.manifest = manifest
        self.vectors_retrievable = vectors_retrievable  # else dense scores are computed from local encodings

    @property
    def stored(self) -> AzureSearchIndex:  # Assistant.open reads index.stored.sentences
        return self

    @cached_property
    def chunks(self):
        """Every chunk in the index (the evaluation reads them; questions never need this)."""
        return [document_to_chunk(d) for d in self.store.documents(CHUNK_FIELDS)]

    @classmethod
    def open(cls, settings, embedder, store: AzureSearchStore | None = None) -> AzureSearchIndex:
        check_settings(settings)
        store = store or AzureSearchStore(settings)
        try:
            definition = store.get_index()
        except AzureSearchError as exc:
            if exc.status != 403:
                raise
            # A query key (or the Search Index Data Reader role) may search but not read the definition:
            # go on without it; a missing index then shows as a 404 on the first search below.
            definition = SimpleNamespace(fields=None)
        if definition is None:
            raise IndexMissing(f"no {store.label}. Build it with: waf-assistant ingest")
        check_index_model(store, settings.embedding_model)
        manifest = {
            "backend": "azure-search",
            "endpoint": store.endpoint,
            "index": store.name,
            "version": f"{store.name} (Azure AI Search)",
            "embedding_model": settings.embedding_model,
            "embedding_dimension": vector_dimension(definition),
            "chunk_count": store.count(),
            "semantic_configuration": settings.azure_search_semantic_config or None,
        }
        vector = next((f for f in definition.fields or [] if f.name == VECTOR_FIELD), None)
        retrievable = vector is None or (vector.retrievable is not False and getattr(vector, "stored", None) is not False)
        return cls(store, embedder, manifest, retrievable)


class AzureSearchRetriever(GuidanceRetriever):
    index: AzureSearchIndex
    semantic_config: str | None = None

    def search(
        self, query: str, pillar: str | None = None, k: int | None = None, query_vector: np.ndarray | None = None
    ) -> list[ScoredChunk]:
        pillar = pillar or self.pillar
        k = k or self.top_k
        dense = self.mode in ("hybrid", "dense")
        vector = None
        request: dict = {
            "filter": pillar_filter(pillar),
            "top": max(self.candidate_k, k),
            "select": CHUNK_FIELDS + ([VECTOR_FIELD] if dense and self.index.vectors_retrievable else []),
        }
        if dense:
            from azure.search.documents.models import VectorizedQuery

            vector = query_vector if query_vector is not None else self.index.embedder.encode([query])[0]
            vector = np.asarray(vector, dtype=np.float32)
            request["vector_queries"] = [
                VectorizedQuery(vector=vector.tolist(), k_nearest_neighbors=self.candidate_k, fields=VECTOR_FIELD)
            ]
        words = text_query(query)
        if self.mode == "bm25" and not words:
            return []
        if self.mode in ("hybrid", "bm25"):
            request["search_text"] = words or None
            if self.semantic_config and words:
                request.update(query_type="semantic", semantic_configuration_name=self.semantic_config)
        results = self.index.store.search(f"searching {self.index.store.label}", **request)
        ranked = [(document, document_to_chunk(document)) for document in results]
        kept = self.diverse(ranked, lambda pair: pair[1], k)
        hits = [ScoredChunk(chunk, None, _service_score(document), rank) for rank, (document, chunk) in enumerate(kept)]
        if vector is not None:
            self._dense_scores([document for document, _ in kept], hits, vector)
        return hits

    def _dense_scores(self, documents: list[dict], hits: list[ScoredChunk], vector: np.ndarray) -> None:
        missing = []
        for document, hit in zip(documents, hits):
            stored = document.get(VECTOR_FIELD)
            if stored:
                hit.dense_score = float(np.asarray(stored, dtype=np.float32) @ vector)
            else:
                missing.append(hit)
        if missing:  # vectors not retrievable from this index: the same number, computed here
            encoded = self.index.embedder.encode([h.chunk.embed_text for h in missing])
            for hit, row in zip(missing, encoded):
                hit.dense_score = float(row @ vector)


def _service_score(document: dict) -> float:
    """The semantic reranker's score when that ranker ran, else the service's fused score."""
    score = document.get("@search.reranker_score")
    score = document.get("@search.score") if score is None else score
    return float(score or 0.0)
