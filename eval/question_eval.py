"""Answers to the blind questions (eval/blind/questions-*.jsonl): retrieval, scope decisions and what the answers say.

    python -m eval.question_eval --split dev       # tune here
    python -m eval.question_eval --split test      # measure only

Per split: page hit@5 and MRR@10 and gold-section hit@5 of the answerable questions (exact anchor, and "within":
the gold section or one of its subsections); the share of answerable
questions answered and of out-of-scope ones declined; the share of the writers' must-mention terms present in
the extractive answers (body and sources, what the reader sees); answers that open with a sentence about a page
instead of guidance; per style (scenario, terse, service, typo, plain, out-of-scope).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

from core.settings import PROJECT_ROOT
from core.slug import anchor_slug
from eval.golden import GoldenQuestion, load_golden
from eval.metrics import key_fact_coverage, page_of, retrieval_scores

BLIND = PROJECT_ROOT / "eval" / "blind"
ABOUT_A_PAGE = re.compile(r"^\W*(?:\*\*[^*]+\*\*\s*)?-?\s*(?:this|the) (?:page|article|document|section|guide)\b", re.I)


def opens_about_a_page(body: str) -> bool:
    first = next((line for line in body.splitlines() if line.strip() and not line.startswith("**")), "")
    return bool(ABOUT_A_PAGE.match(first.strip()))


def score_questions(assistant, questions: list[GoldenQuestion]) -> dict:
    rows = []
    for q in questions:
        answer = assistant.ask(q.question)
        deep = assistant.retriever.search(answer.standalone_question or q.question, k=10)
        urls = [h.chunk.url for h in deep]
        row = {"id": q.id, "style": q.kind, "answerable": q.answerable, "refused": answer.refused}
        within = [_within_gold(h.chunk, q.gold_urls) for h in deep]
        if q.answerable:
            row |= {
                "page": retrieval_scores(urls, q.gold_urls, page_only=True),
                "section": retrieval_scores(urls, q.gold_urls),
                "section_within": retrieval_scores(within, q.gold_urls),
                "must_mention": key_fact_coverage(answer.display_text(), q.key_facts) if not answer.refused else 0.0,
                "opens_about_a_page": not answer.refused and opens_about_a_page(answer.text),
            }
        rows.append(row)
    return summarise(rows) | {"questions": rows}


def _within_gold(chunk, gold_urls: list[str]) -> str:
    """The gold URL whose section holds the chunk (the section itself or one of its subsections: a chunk cites
    its deepest heading, so a passage under a gold h2's h3 cites the h3), else the chunk's own URL."""
    page = page_of(chunk.url)
    enclosing = {chunk.url} | {f"{page}#{anchor_slug(heading)}" for heading in chunk.heading_path[1:]}
    return next((gold for gold in gold_urls if gold in enclosing), chunk.url)


def _mean(values) -> float:
    values = list(values)
    return round(statistics.fmean(values), 4) if values else 0.0


def summarise(rows: list[dict]) -> dict:
    def figures(group: list[dict]) -> dict:
        answerable = [r for r in group if r["answerable"]]
        declined = [r for r in group if not r["answerable"]]
        out = {"questions": len(group)}
        if answerable:
            out |= {
                "page_hit@5": _mean(r["page"]["hit@5"] for r in answerable),
                "page_mrr@10": _mean(r["page"]["mrr@10"] for r in answerable),
                "section_hit@5": _mean(r["section"]["hit@5"] for r in answerable),
                "section_within_hit@5": _mean(r["section_within"]["hit@5"] for r in answerable),
                "answered": _mean(not r["refused"] for r in answerable),
                "must_mention": _mean(r["must_mention"] for r in answerable),
                "opens_about_a_page": sum(r["opens_about_a_page"] for r in answerable),
            }
        if declined:
            out["declined"] = _mean(r["refused"] for r in declined)
        return out

    by_style = defaultdict(list)
    for row in rows:
        by_style[row["style"]].append(row)
    return {"overall": figures(rows), "per_style": {s: figures(g) for s, g in sorted(by_style.items())}}


def main(argv: list[str] | None = None) -> int:
    from core.offline import apply_offline_defaults

    apply_offline_defaults()
    from app.assistant import Assistant
    from core.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--questions", type=Path, help="another question file in the golden format")
    parser.add_argument("--details", action="store_true", help="print every question's outcome too")
    args = parser.parse_args(argv)
    questions = load_golden(args.questions or BLIND / f"questions-{args.split}.jsonl")
    result = score_questions(Assistant.open(get_settings()), questions)
    if not args.details:
        result.pop("questions")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
