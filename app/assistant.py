"""retrieve -> answer -> cite: the one entry point the CLI, the UI and the evaluation call."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

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
    generator: Any = None  # app.llm.generate.GenerativeAnswerer when WAF_LLM_BACKEND is not extractive

    @classmethod
    def open(cls, settings: Settings, embedder: SentenceEmbedder | None = None) -> "Assistant":
        embedder = embedder or SentenceEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )
        if settings.index_backend == "azure-search":  # imported only then: the azure SDK is an optional extra
            from app.azure_retrieval import open_azure_search

            index, retriever = open_azure_search(settings, embedder)
        else:
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
        generator = None
        if settings.llm_backend != "extractive":  # imported only then: langchain-openai is not on the default path
            from app.llm.generate import from_settings

            generator = from_settings(settings, embedder, index.stored.sentences)
        return cls(settings, index, retriever, answerer, generator)

    def ask(self, question: str, pillar: str | None = None, history: list | None = None) -> Answer:
        """history: earlier turns (Answer objects, (question, answer) pairs or role dicts) for follow-ups."""
        turn = self._prepare(question, pillar, history)
        if turn.answer is None and self.generator is not None:
            generated = time.perf_counter()
            turn.answer = self.generator.answer(
                turn.standalone, turn.hits, turn.passages, turn.best, lambda: self._extractive(turn), turn.record
            )
            turn.timings["generate_ms"] = (time.perf_counter() - generated) * 1000
        return self._complete(turn, turn.answer or self._extractive(turn))

    def stream(self, question: str, pillar: str | None = None, history: list | None = None) -> Iterator[str | Answer]:
        """Text deltas for the UI, then the final Answer: its text (citations resolved, markers repaired,
        Sources appended) replaces what was streamed."""
        turn = self._prepare(question, pillar, history)
        if turn.answer is None and self.generator is not None:
            generated = time.perf_counter()
            for item in self.generator.stream(
                turn.standalone, turn.hits, turn.passages, turn.best, lambda: self._extractive(turn), turn.record
            ):
                if isinstance(item, Answer):
                    turn.timings["generate_ms"] = (time.perf_counter() - generated) * 1000
                    yield self._complete(turn, item)
                    return
                yield item
            return
        answer = self._complete(turn, turn.answer or self._extractive(turn))
        yield answer.text
        yield answer

    def _prepare(self, question: str, pillar: str | None, history: list | None) -> "_Turn":
        """Standalone question (conversation memory), retrieval, and the decline when nothing is relevant."""
        from app.llm.memory import history_turns, rule_rewrite

        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        pillar_key = _pillar_key(pillar)
        turn = _Turn(question=question, standalone=question, pillar_key=pillar_key, started=time.perf_counter())
        turns = history_turns(history, self.settings.llm_history_turns)
        if turns:
            if self.generator is not None:
                from app.llm.client import CallRecord

                turn.record = CallRecord()
                turn.standalone = self.generator.rewrite(question, turns, turn.record)
            else:
                turn.standalone = rule_rewrite(question, turns)
            turn.timings["rewrite_ms"] = (time.perf_counter() - turn.started) * 1000
        retrieving = time.perf_counter()
        turn.query_vector = self.index.embedder.encode([turn.standalone])[0]
        turn.hits = self.retriever.search(turn.standalone, pillar=pillar_key, query_vector=turn.query_vector)
        turn.timings["retrieve_ms"] = (time.perf_counter() - retrieving) * 1000
        turn.passages = [_passage(hit) for hit in turn.hits]
        turn.best = max((h.dense_score for h in turn.hits if h.dense_score is not None), default=0.0)
        if turn.best < self.settings.relevance_threshold:
            turn.answer = Answer(
                question, _decline_text(turn.hits, self.settings.relevance_threshold), [], [], turn.passages,
                refused=True, suggestions=_nearby_topics(turn.hits, self.settings.relevance_threshold),
                best_score=turn.best,
            )
        return turn

    def _extractive(self, turn: "_Turn") -> Answer:
        chosen = time.perf_counter()
        quotes = self.answerer.select(turn.query_vector, turn.hits, turn.pillar_key)
        turn.timings["select_ms"] = (time.perf_counter() - chosen) * 1000
        citations = _citations(quotes)
        numbers = {c.url: c.number for c in citations}
        sources = "\n".join(c.source_line for c in citations)
        text = f"{render(quotes, numbers)}\n\nSources\n{sources}"
        pillars = list(dict.fromkeys(q.pillar for q in quotes))
        return Answer(turn.question, text, citations, pillars, turn.passages, best_score=turn.best)

    def _complete(self, turn: "_Turn", answer: Answer) -> Answer:
        from app.llm.followups import suggest_follow_ups

        answer.question = turn.question
        answer.standalone_question = turn.standalone
        if turn.record is not None and not answer.usage:
            answer.usage = turn.record.summary()
        if not answer.refused:
            answer.follow_ups = suggest_follow_ups(turn.standalone, turn.hits, {c.url for c in answer.citations})
        turn.timings["total_ms"] = (time.perf_counter() - turn.started) * 1000
        answer.timings = turn.timings
        return answer


@dataclass
class _Turn:
    question: str
    standalone: str
    pillar_key: str | None
    started: float
    query_vector: Any = None
    hits: list[ScoredChunk] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    best: float = 0.0
    answer: Answer | None = None
    record: Any = None  # app.llm.client.CallRecord: the LLM calls made for this turn
    timings: dict[str, float] = field(default_factory=dict)


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
    """One number per cited URL, in the order the answer first uses it. Several chunks can cite one
    official section (corpus files split a long section); the passage holds every chunk quoted under it."""
    citations: dict[str, Citation] = {}
    for quote in quotes:
        chunk = quote.hit.chunk
        citation = citations.get(chunk.url)
        if citation is None:
            citations[chunk.url] = Citation(
                len(citations) + 1, chunk.title, chunk.section_label, chunk.url, list(chunk.pillars),
                chunk.chunk_id, chunk.text,
            )
        elif chunk.text not in citation.passage:
            citation.passage += "\n\n" + chunk.text
    return list(citations.values())


def _nearby_topics(hits: list[ScoredChunk], threshold: float) -> list[str]:
    floor = threshold * 0.7
    return list(dict.fromkeys(h.chunk.section_label for h in hits if (h.dense_score or 0) >= floor))[:3]


def _decline_text(hits: list[ScoredChunk], threshold: float) -> str:
    topics = _nearby_topics(hits, threshold)
    if not topics:
        return NOT_COVERED + " Ask about designing AI workloads on Azure by pillar: reliability, security, cost, operations or performance."
    return NOT_COVERED + " Nearby topics it does cover:\n" + "\n".join(f"- {t}" for t in topics)
