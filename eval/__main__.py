"""`python -m eval` / `make eval`: the offline evaluation, gated by eval/thresholds.toml.

Writes eval/results/latest.json and eval/results/latest.md; exits 1 when a figure is below its threshold.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

from app.assistant import Assistant
from core.offline import apply_offline_defaults
from core.settings import PROJECT_ROOT, get_settings
from eval.golden import load_golden
from eval.official_eval import find_official_docs, official_metrics
from eval.report import render_markdown
from eval.runner import ablation, run_questions, summarise
from ingest.pipeline import run_ingest

EVAL_DIR = PROJECT_ROOT / "eval"


def check_thresholds(results: dict, thresholds: dict) -> list[str]:
    """Each threshold key is a dotted path into the results, e.g. 'summary.retrieval_page.hit@5'."""
    failures = []
    for path, minimum in _flatten(thresholds):
        section = results.get(path.split(".", 1)[0])
        if isinstance(section, dict) and "skipped" in section:  # e.g. the official docs are not beside us
            continue
        value: object = results
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, (int, float)):
            failures.append(f"{path}: missing from the results")
        elif value < minimum:
            failures.append(f"{path}: {value:.4f} < {minimum}")
    return failures


def _flatten(table: dict, prefix: str = "") -> list[tuple[str, float]]:
    items = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        items += _flatten(value, path + ".") if isinstance(value, dict) else [(path, float(value))]
    return items


def review_metrics(settings, assistant: Assistant) -> dict:
    """The whole offline review (screen, then the offline assessor) against our sample designs
    (eval/designs/expected.jsonl) and both splits of the blind designs (eval/blind/designs)."""
    from app.review.service import Reviewer
    from eval.review_eval import (
        ADJUDICATED,
        blind_reviews,
        blind_scores,
        load_expected,
        review_designs,
        review_scores,
        statuses,
    )

    expected = load_expected()
    offline = settings.model_copy(update={"review_assessor": "rule"})  # the gate measures the offline assessor
    reviewer = Reviewer.open(offline, assistant.index.embedder, assistant.retriever)
    metrics = review_scores(expected, statuses(review_designs(reviewer, expected)[0]))
    metrics["blind_dev"] = blind_scores(reviewer, "dev")
    test_reviews = blind_reviews(reviewer, "test")
    metrics["blind_test"] = blind_scores(reviewer, "test", reviewed=test_reviews)
    # The same reviews against labels a third helper adjudicated where two labellers disagreed.
    metrics["blind_test_adjudicated"] = blind_scores(reviewer, "test", ADJUDICATED, reviewed=test_reviews)
    return metrics


def blind_question_metrics(assistant: Assistant) -> dict:
    """The blind questions (eval/blind/questions-*.jsonl): tune on dev, test only measured."""
    from eval.question_eval import BLIND, score_questions

    metrics = {}
    for split in ("dev", "test"):
        result = score_questions(assistant, load_golden(BLIND / f"questions-{split}.jsonl"))
        result.pop("questions")
        metrics[split] = result
    return metrics


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=Path, default=EVAL_DIR / "golden.jsonl")
    parser.add_argument("--thresholds", type=Path, default=EVAL_DIR / "thresholds.toml")
    parser.add_argument("--out", type=Path, default=EVAL_DIR / "results")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument(
        "--no-official", action="store_true",
        help="skip the official-docs section (it indexes the docs and rebuilds the naive baseline: minutes)",
    )
    parser.add_argument(
        "--judge", nargs="?", const="llm", default=None, choices=("none", "llm", "openai", "azure-openai"),
        help="also score with an LLM judge (ragas faithfulness, answer_relevancy, context_recall): 'llm' (the "
        "default when given without a value) is WAF_LLM_BACKEND; overrides WAF_EVAL_JUDGE",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    settings = get_settings()
    judge, judge_errors = None, ()
    if (args.judge or settings.eval_judge) != "none":  # eval.ragas_judge (langchain-openai) only when asked
        from app.llm.resilience import BackendConfigError
        from eval.ragas_judge import JudgeError, make_judge

        judge_errors = (JudgeError,)
        try:
            judge = make_judge(settings, args.judge)
        except BackendConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(run_ingest(settings, show_progress=False).lines()[-1])  # the default index, brought up to date
    assistant = Assistant.open(settings)
    questions = load_golden(args.golden)
    results = run_questions(assistant, questions)
    chunk_texts: dict[str, list[str]] = {}
    for chunk in assistant.index.chunks:
        chunk_texts.setdefault(chunk.url, []).append(chunk.text)
    try:
        from eval.ragas_eval import score_with_ragas  # imports ragas: after the offline defaults are set

        score_with_ragas(results, assistant.index.embedder, chunk_texts, judge=judge)
    except judge_errors as exc:  # the judge scored no answer at all (ragas logged why)
        print(f"error: {exc}", file=sys.stderr)
        return 1

    report = {
        "summary": summarise(results),
        "ablation": {} if args.no_ablation else ablation(assistant, questions, list(settings.corpus_paths)),
        "review": review_metrics(settings, assistant),
        "blind_questions": blind_question_metrics(assistant),
        "official_docs": {"skipped": "--no-official"} if args.no_official else official_metrics(
            settings, find_official_docs(settings)
        ),
        "index": {k: assistant.index.manifest.get(k) for k in ("version", "embedding_model", "chunk_count")},
        "judge": judge.describe() if judge else None,
        "questions": [
            {
                "id": r.question.id, "question": r.question.question, "refused": r.refused,
                "best_score": round(r.best_score, 4), "anchor": r.anchor, "page": r.page,
                "key_facts": r.key_facts, "ragas": r.ragas, "retrieved": r.retrieved_sections[:5],
                "retrieved_urls": r.retrieved_urls[:5], "gold_urls": r.question.gold_urls,
                "answerable": r.question.answerable,
            }
            for r in results
        ],
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    failures = check_thresholds(report, tomllib.loads(args.thresholds.read_text())) if args.thresholds.is_file() else []
    report["threshold_failures"] = failures

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(report)
    (args.out / "latest.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    if failures:
        print("below thresholds:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
