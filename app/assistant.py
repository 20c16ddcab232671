"""retrieve -> answer -> cite: the one entry point the CLI, the UI and the evaluation call."""
from __future__ import annotations

import time
from dataclasses import dataclass

from app.answer import Answer, Citation, Passage
from app.extractive import ExtractiveAnswerer, Quote, render
from app.retrieval import GuidanceIndex, HybridRetriever, ScoredChunk
from ingest.embed import SentenceEmbedder
from ingest.pillars import PILLAR_NAMES, normalize_pillar
from ingest.settings import Settings
from ingest.store import load_index

NOT_COVERED = (
    "The Well-Architected guidance I hold does not cover this question, so I will not guess an answer."
)


class UnknownPillar(ValueError):
    pass


@dataclass
class Assistant:
    settings: Settings
    index: GuidanceIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer

    @classmethod
    def open(cls, settings: Settings, embedder: SentenceEmbedder | None = None) -> "Assistant":
        embedder = embedder or SentenceEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )
        index = GuidanceIndex(load_index(settings.index_dir, settings.embedding_model), embedder)
        retriever = HybridRetriever(
            index=index,
            top_k=settings.top_k,
            candidate_k=settings.candidate_k,
            rrf_k=settings.rrf_k,
            max_per_section=settings.max_chunks_per_section,
        )
        answerer = ExtractiveAnswerer(
            embedder, settings.answer_max_sentences, settings.answer_min_sentence_score, index.stored.sentences
        )
        return cls(settings, index, retriever, answerer)

    def ask(self, question: str, pillar: str | None = None) -> Answer:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        pillar_key = _pillar_key(pillar)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        query_vector = self.index.embedder.encode([question])[0]
        hits = self.retriever.search(question, pillar=pillar_key, query_vector=query_vector)
        timings["retrieve_ms"] = (time.perf_counter() - started) * 1000
        passages = [_passage(hit) for hit in hits]
        best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)

        if best < self.settings.relevance_threshold:
            answer = Answer(
                question, _decline_text(hits, self.settings.relevance_threshold), [], [], passages,
                refused=True, suggestions=_nearby_topics(hits, self.settings.relevance_threshold), best_score=best,
            )
        else:
            chosen = time.perf_counter()
            quotes = self.answerer.select(query_vector, hits, pillar_key)
            timings["select_ms"] = (time.perf_counter() - chosen) * 1000
            citations = _citations(quotes)
            numbers = {c.url: c.number for c in citations}
            sources = "\n".join(c.source_line for c in citations)
            text = f"{render(quotes, numbers)}\n\nSources\n{sources}"
            pillars = list(dict.fromkeys(q.pillar for q in quotes))
            answer = Answer(question, text, citations, pillars, passages, best_score=best)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        answer.timings = timings
        return answer


def _pillar_key(pillar: str | None) -> str | None:
    if not pillar:
        return None
    key = normalize_pillar(pillar)
    if key is None:
        raise UnknownPillar(f"unknown pillar {pillar!r}; choose one of: {', '.join(PILLAR_NAMES)}")
    return key


def _passage(hit: ScoredChunk) -> Passage:
    c = hit.chunk
    return Passage(c.chunk_id, c.title, c.section_label, c.url, list(c.pillars), c.text, hit.dense_score, hit.rrf_score)


def _citations(quotes: list[Quote]) -> list[Citation]:
    """One number per cited URL, in the order the answer first uses it."""
    citations: dict[str, Citation] = {}
    for quote in quotes:
        chunk = quote.hit.chunk
        if chunk.url not in citations:
            citations[chunk.url] = Citation(
                len(citations) + 1, chunk.title, chunk.section_label, chunk.url, list(chunk.pillars),
                chunk.chunk_id, chunk.text,
            )
    return list(citations.values())


def _nearby_topics(hits: list[ScoredChunk], threshold: float) -> list[str]:
    floor = threshold * 0.7
    return list(dict.fromkeys(h.chunk.section_label for h in hits if (h.dense_score or 0) >= floor))[:3]


def _decline_text(hits: list[ScoredChunk], threshold: float) -> str:
    topics = _nearby_topics(hits, threshold)
    if not topics:
        return NOT_COVERED + " Ask about designing AI workloads on Azure by pillar: reliability, security, cost, operations or performance."
    return NOT_COVERED + " Nearby topics it does cover:\n" + "\n".join(f"- {t}" for t in topics)
