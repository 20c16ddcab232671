"""Run every golden question through the same Assistant the app uses and score it, offline."""
from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from app.assistant import Assistant
from eval.golden import GoldenQuestion
from eval.metrics import key_fact_coverage, refusal_correct, retrieval_scores
from ingest.load import discover, official_page_url, split_front_matter

RETRIEVAL_DEPTH = 10


@dataclass
class QuestionResult:
    question: GoldenQuestion
    answer_text: str
    refused: bool
    best_score: float
    retrieved_urls: list[str]
    retrieved_sections: list[str]
    anchor: dict[str, float]
    page: dict[str, float]
    key_facts: float
    refusal_ok: bool
    cited_contexts: list[str]
    retrieved_contexts: list[str]
    latency_ms: float
    ragas: dict[str, float] = field(default_factory=dict)


def run_questions(assistant: Assistant, questions: list[GoldenQuestion]) -> list[QuestionResult]:
    results = []
    for q in questions:
        started = time.perf_counter()
        answer = assistant.ask(q.question)
        latency = (time.perf_counter() - started) * 1000
        deep = assistant.retriever.search(q.question, k=RETRIEVAL_DEPTH)
        urls = [h.chunk.url for h in deep]
        results.append(
            QuestionResult(
                question=q,
                answer_text=answer.text,
                refused=answer.refused,
                best_score=answer.best_score,
                retrieved_urls=urls,
                retrieved_sections=[h.chunk.section_label for h in deep],
                anchor=retrieval_scores(urls, q.gold_urls) if q.answerable else {},
                page=retrieval_scores(urls, q.gold_urls, page_only=True) if q.answerable else {},
                # Key facts count in what the reader is shown: the body and its source list.
                key_facts=key_fact_coverage(answer.display_text(), q.key_facts) if q.answerable else 1.0,
                refusal_ok=refusal_correct(answer.refused, q.answerable),
                cited_contexts=[c.passage for c in answer.citations],
                retrieved_contexts=[p.text for p in answer.passages],
                latency_ms=latency,
            )
        )
    return results


def mean(values: list[float]) -> float:
    values = [v for v in values if v == v]  # NaN means "not applicable" (e.g. a refused answer)
    return round(statistics.fmean(values), 4) if values else 0.0


def summarise(results: list[QuestionResult]) -> dict:
    answerable = [r for r in results if r.question.answerable]
    summary = {
        "questions": len(results),
        "answerable": len(answerable),
        "retrieval_anchor": _average([r.anchor for r in answerable]),
        "retrieval_page": _average([r.page for r in answerable]),
        "key_fact_coverage": mean([r.key_facts for r in answerable]),
        "refusal_accuracy": mean([float(r.refusal_ok) for r in results]),
        "answered_when_answerable": mean([float(not r.refused) for r in answerable]),
        "declined_when_unanswerable": mean([float(r.refused) for r in results if not r.question.answerable]),
        "answer_latency_p50_ms": round(statistics.median(r.latency_ms for r in results), 1),
    }
    ragas_names = sorted({name for r in answerable for name in r.ragas})
    summary["ragas"] = {name: mean([r.ragas.get(name, float("nan")) for r in answerable]) for name in ragas_names}
    per_pillar: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in answerable:
        for pillar in r.question.pillars:
            per_pillar[pillar].append(r)
    summary["per_pillar"] = {
        pillar: {
            "questions": len(rs),
            "hit@5": mean([r.anchor["hit@5"] for r in rs]),
            "page_hit@5": mean([r.page["hit@5"] for r in rs]),
            "mrr@10": mean([r.anchor["mrr@10"] for r in rs]),
            "key_fact_coverage": mean([r.key_facts for r in rs]),
            **{name: mean([r.ragas.get(name, float("nan")) for r in rs]) for name in ragas_names},
        }
        for pillar, rs in sorted(per_pillar.items())
    }
    return summary


def _average(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: mean([row[key] for row in rows]) for key in (rows[0] if rows else {})}


def ablation(assistant: Assistant, questions: list[GoldenQuestion], corpus_paths: list[Path]) -> dict:
    """BM25 only, dense only, hybrid, and a naive langchain baseline, on the same answerable questions."""
    answerable = [q for q in questions if q.answerable]
    table = {}
    for mode in ("bm25", "dense", "hybrid"):
        # A copy of the assistant's own retriever (FAISS or Azure AI Search), in one mode.
        retriever = assistant.retriever.model_copy(update={"mode": mode, "top_k": RETRIEVAL_DEPTH})
        table[mode] = score_urls([[h.chunk.url for h in retriever.search(q.question)] for q in answerable], answerable)
    naive = naive_baseline(assistant.index.embedder, corpus_paths)
    table["naive-langchain"] = score_urls(
        [[d.metadata["url"] for d in naive.similarity_search(q.question, k=RETRIEVAL_DEPTH)] for q in answerable],
        answerable,
    )
    return table


def score_urls(url_lists: list[list[str]], questions: list[GoldenQuestion]) -> dict:
    return {
        "anchor": _average([retrieval_scores(urls, q.gold_urls) for urls, q in zip(url_lists, questions)]),
        "page": _average([retrieval_scores(urls, q.gold_urls, page_only=True) for urls, q in zip(url_lists, questions)]),
    }


def naive_baseline(embeddings, corpus_paths: list[Path]):
    """What a first RAG tutorial builds: whole files split 1000/200 characters, dense top-k, nothing else."""
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts, metadatas = [], []
    for root in corpus_paths:
        for source in discover(root):
            if source.path.suffix != ".md":
                continue
            meta, body = split_front_matter(source.path.read_text(encoding="utf-8"), source.path)
            for piece in splitter.split_text(body):
                texts.append(piece)
                metadatas.append({"url": str(meta.get("source_url") or official_page_url(source) or source.path.as_uri())})
    return FAISS.from_texts(
        texts, embeddings, metadatas=metadatas, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
