"""ragas scoring of the answers: non-LLM metrics always (offline), LLM-judged metrics only when asked."""
from __future__ import annotations

import os
import warnings

from eval.groundedness import CitedGroundedness
from eval.runner import QuestionResult
from ingest.embed import SentenceEmbedder

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")


def reference_contexts(result: QuestionResult, chunk_texts_by_url: dict[str, list[str]]) -> list[str]:
    """The guidance text at the gold sections; the golden reference answer when the corpus has none."""
    texts = [t for url in result.question.gold_urls for t in chunk_texts_by_url.get(url, [])]
    return texts or [result.question.reference]


def score_with_ragas(
    results: list[QuestionResult], embedder: SentenceEmbedder, chunk_texts_by_url: dict[str, list[str]]
) -> None:
    """Adds each metric to result.ragas, for answered answerable questions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas import EvaluationDataset, evaluate
        from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall, RougeScore

    scored = [r for r in results if r.question.answerable and not r.refused]
    if not scored:
        return
    context_rows = [
        {
            "user_input": r.question.question,
            "response": r.answer_text.split("\nSources\n", 1)[0],
            "reference": r.question.reference,
            "retrieved_contexts": r.retrieved_contexts,
            "reference_contexts": reference_contexts(r, chunk_texts_by_url),
        }
        for r in scored
    ]
    cited_rows = [
        {"user_input": r.question.question, "response": r.answer_text, "retrieved_contexts": r.cited_contexts}
        for r in scored
    ]
    runs = [
        (context_rows, [NonLLMContextRecall(), NonLLMContextPrecisionWithReference(), RougeScore()]),
        (cited_rows, [CitedGroundedness(embedder=embedder)]),
    ]
    for rows, metrics in runs:
        frame = evaluate(
            EvaluationDataset.from_list(rows), metrics=metrics, show_progress=False, raise_exceptions=True
        ).to_pandas()
        for metric in metrics:
            column = next(c for c in frame.columns if c.startswith(metric.name))
            for result, value in zip(scored, frame[column]):
                result.ragas[metric.name] = float(value)
