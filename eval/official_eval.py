"""The blind questions over an index of the official docs, beside a naive langchain RAG over the same docs.

    python -m eval.official_eval [--docs DIR] [--split dev|test]

The official docs are the synced clone (`waf-assistant docs sync`), else `--docs`, else the copy beside the
project (../shared/waf-docs/well-architected). Without any of them the evaluation says so and is skipped: the
project never depends on them. The index is built once into `.index-official/` and updated incrementally.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.settings import PROJECT_ROOT, Settings
from eval.golden import GoldenQuestion, load_golden

SHARED_DOCS = PROJECT_ROOT.parent / "shared" / "waf-docs" / "well-architected"
OFFICIAL_INDEX_DIR = PROJECT_ROOT / ".index-official"
DEPTH = 10


def find_official_docs(settings: Settings, given: Path | None = None) -> Path | None:
    for candidate in (given, settings.official_docs_dir, SHARED_DOCS):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


def official_settings(settings: Settings, docs: Path) -> Settings:
    return settings.model_copy(update={"index_dir": OFFICIAL_INDEX_DIR, "corpus_paths": [docs]})


def naive_scores(naive, questions: list[GoldenQuestion]) -> dict:
    """Page hit@5, page MRR@10 and gold-section hit@5 of the naive store, on the answerable questions."""
    from eval.runner import score_urls

    answerable = [q for q in questions if q.answerable]
    urls = [[d.metadata["url"] for d in naive.similarity_search(q.question, k=DEPTH)] for q in answerable]
    scores = score_urls(urls, answerable)
    return {
        "page_hit@5": round(scores["page"].get("hit@5", 0.0), 4),
        "page_mrr@10": round(scores["page"].get("mrr@10", 0.0), 4),
        "section_hit@5": round(scores["anchor"].get("hit@5", 0.0), 4),
    }


def official_metrics(settings: Settings, docs: Path | None, splits=("dev", "test"), show_progress=False) -> dict:
    """Per split: the assistant over the official-docs index (overall and per style), the naive baseline over
    the same docs, and the assistant's MRR margin over the naive one."""
    if docs is None:
        return {"skipped": "official docs not found: run `waf-assistant docs sync` or pass --docs"}
    from app.assistant import Assistant
    from eval.question_eval import BLIND, score_questions
    from eval.runner import naive_baseline
    from ingest.pipeline import run_ingest

    scoped = official_settings(settings, docs)
    ingested = run_ingest(scoped, paths=[docs], show_progress=show_progress)
    assistant = Assistant.open(scoped)
    naive = naive_baseline(assistant.index.embedder, [docs])
    result: dict = {"docs": str(docs), "chunks": assistant.index.manifest.get("chunk_count"), "ingest": ingested.lines()[-1]}
    for split in splits:
        questions = load_golden(BLIND / f"questions-{split}.jsonl")
        scored = score_questions(assistant, questions)
        scored.pop("questions")
        baseline = naive_scores(naive, questions)
        scored["naive"] = baseline
        scored["mrr_over_naive"] = round(scored["overall"]["page_mrr@10"] - baseline["page_mrr@10"], 4)
        result[split] = scored
    return result


def main(argv: list[str] | None = None) -> int:
    from core.offline import apply_offline_defaults

    apply_offline_defaults()
    from core.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="the official docs' well-architected folder")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    args = parser.parse_args(argv)
    settings = get_settings()
    docs = find_official_docs(settings, args.docs)
    print(json.dumps(official_metrics(settings, docs, (args.split,), show_progress=True), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
