"""The embedded default answerer: quotes the retrieved sentences that best answer the question, grouped
by pillar, each followed by its citation marker. No LLM, no network."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.documents import SentenceVectors
from core.embeddings import SentenceEmbedder
from core.pillars import PILLAR_NAMES
from core.text import split_sentences
from index.retriever import ScoredChunk

NEAR_DUPLICATE = 0.88
MAX_PER_CHUNK = 3


@dataclass
class Quote:
    sentence: str
    hit: ScoredChunk
    score: float
    pillar: str


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: SentenceEmbedder,
        max_sentences: int = 6,
        min_sentence_score: float = 0.3,
        sentence_vectors: SentenceVectors | None = None,
    ):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.min_sentence_score = min_sentence_score
        self.sentence_vectors = sentence_vectors

    def select(self, query_vector: np.ndarray, hits: list[ScoredChunk], pillar: str | None = None) -> list[Quote]:
        candidates = [(sentence, hit) for hit in hits for sentence in split_sentences(hit.chunk.text)]
        if not candidates:
            return []
        vectors = self._sentence_vectors(hits, candidates)
        relevance = vectors @ query_vector
        # Sentences from higher-ranked chunks win ties: the chunk's own rank is evidence too.
        rank_bonus = np.array([0.05 / (1 + hits.index(hit)) for _, hit in candidates])
        order = np.argsort(-(relevance + rank_bonus))
        chosen: list[int] = []
        per_chunk: dict[str, int] = {}
        for i in order:
            if len(chosen) == self.max_sentences or relevance[i] < self.min_sentence_score:
                break
            chunk_id = candidates[i][1].chunk.chunk_id
            if per_chunk.get(chunk_id, 0) >= MAX_PER_CHUNK:
                continue
            if chosen and float(np.max(vectors[chosen] @ vectors[i])) > NEAR_DUPLICATE:
                continue
            chosen.append(int(i))
            per_chunk[chunk_id] = per_chunk.get(chunk_id, 0) + 1
        if not chosen:  # the best sentence of the best chunk still beats an empty answer
            chosen = [int(order[0])]
        return [
            Quote(candidates[i][0], candidates[i][1], float(relevance[i]), pillar or _primary_pillar(candidates[i][1]))
            for i in chosen
        ]


    def _sentence_vectors(self, hits: list[ScoredChunk], candidates: list[tuple[str, ScoredChunk]]) -> np.ndarray:
        """Vectors precomputed at ingest when the index has them; otherwise one model pass now."""
        if self.sentence_vectors is not None:
            stored = [self.sentence_vectors.for_chunk(hit.position) for hit in hits]
            if sum(len(s) for s in stored) == len(candidates):
                return np.vstack(stored)
        return self.embedder.encode([sentence for sentence, _ in candidates])


def _primary_pillar(hit: ScoredChunk) -> str:
    return hit.chunk.pillars[0] if hit.chunk.pillars else "operational-excellence"


def render(quotes: list[Quote], numbers: dict[str, int]) -> str:
    """Pillar headings in order of their best quote; bullets keep the order in which they were chosen."""
    groups: dict[str, list[Quote]] = {}
    for quote in quotes:
        groups.setdefault(quote.pillar, []).append(quote)
    blocks = []
    for pillar, members in groups.items():
        lines = [f"**{PILLAR_NAMES.get(pillar, pillar.title())}**"]
        lines += [f"- {q.sentence} [{numbers[q.hit.chunk.url]}]" for q in members]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
