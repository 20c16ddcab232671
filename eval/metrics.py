"""Retrieval and answer metrics that need no LLM: hit@k, MRR, nDCG, key-fact coverage, refusal accuracy."""
from __future__ import annotations

import math
import re


def page_of(url: str) -> str:
    return url.split("#", 1)[0].rstrip("/")


def relevance(retrieved_urls: list[str], gold_urls: list[str], page_only: bool = False) -> list[int]:
    """1 where the retrieved URL matches a gold URL (page+anchor, or page only), else 0."""
    gold = {page_of(u) for u in gold_urls} if page_only else set(gold_urls)
    return [int((page_of(u) if page_only else u) in gold) for u in retrieved_urls]


def hit_at(rel: list[int], k: int) -> float:
    return float(any(rel[:k]))


def mrr_at(rel: list[int], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, r in enumerate(rel[:k]) if r), 0.0)


def ndcg_at(rel: list[int], gold_count: int, k: int = 10) -> float:
    """Binary-relevance nDCG; a gold URL counts once even when several chunks of it are retrieved."""
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel[:k]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(gold_count, k)))
    return dcg / ideal if ideal else 0.0


def retrieval_scores(retrieved_urls: list[str], gold_urls: list[str], page_only: bool = False) -> dict[str, float]:
    rel = _first_match_only(retrieved_urls, gold_urls, page_only)
    gold_count = len({page_of(u) for u in gold_urls}) if page_only else len(set(gold_urls))
    return {
        "hit@1": hit_at(rel, 1),
        "hit@3": hit_at(rel, 3),
        "hit@5": hit_at(rel, 5),
        "mrr@10": mrr_at(rel, 10),
        "ndcg@10": ndcg_at(rel, gold_count, 10),
    }


def _first_match_only(retrieved_urls: list[str], gold_urls: list[str], page_only: bool) -> list[int]:
    rel, seen = [], set()
    for url, r in zip(retrieved_urls, relevance(retrieved_urls, gold_urls, page_only)):
        key = page_of(url) if page_only else url
        rel.append(int(r and key not in seen))
        if r:
            seen.add(key)
    return rel


def _normalise(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def key_fact_coverage(answer_text: str, key_facts: list[str]) -> float:
    """Share of key facts whose words all appear in the answer (order-free, case and punctuation ignored)."""
    if not key_facts:
        return 1.0
    answer_words = set(_normalise(answer_text).split())
    covered = sum(all(w in answer_words for w in _normalise(fact).split()) for fact in key_facts)
    return covered / len(key_facts)


def refusal_correct(refused: bool, answerable: bool) -> bool:
    return refused != answerable
