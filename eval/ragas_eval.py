"""ragas scoring of the answers: non-LLM metrics always (offline), LLM-judged metrics only when asked."""
from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

from core.embeddings import SentenceEmbedder
from eval.groundedness import CitedGroundedness
from eval.runner import QuestionResult

if TYPE_CHECKING:
    from eval.ragas_judge import Judge

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")


def reference_contexts(result: QuestionResult, chunk_texts_by_url: dict[str, list[str]]) -> list[str]:
    """The guidance text at the gold sections; the golden reference answer when the corpus has none."""
    texts = [t for url in result.question.gold_urls for t in chunk_texts_by_url.get(url, [])]
    return texts or [result.question.reference]


def score_with_ragas(
    results: list[QuestionResult], embedder: SentenceEmbedder, chunk_texts_by_url: dict[str, list[str]],
    judge: Judge | None = None,
) -> None:
    """Adds each metric to result.ragas, for answered answerable questions.

    With a judge (eval/judge.py) also the LLM-judged faithfulness, answer_relevancy and context_recall, over
    the answer body, the retrieved passages and the golden reference. An answer the judge fails on (an error,
    a reply that is not the JSON ragas asks for) is NaN for that metric, logged by ragas and counted in
    judge.unscored; the run stops only when the judge scores no answer at all."""
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
            "response": r.answer_text,
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
    runs = [  # (rows, metrics, judged)
        (context_rows, [NonLLMContextRecall(), NonLLMContextPrecisionWithReference(), RougeScore()], False),
        (cited_rows, [CitedGroundedness(embedder=embedder)], False),
    ]
    if judge is not None:
        runs.append((context_rows, judge.metrics(embedder), True))
    for rows, metrics, judged in runs:
        frame = evaluate(
            EvaluationDataset.from_list(rows), metrics=metrics, show_progress=False, raise_exceptions=not judged,
            **({"run_config": judge.run_config()} if judged else {}),
        ).to_pandas()
        for metric in metrics:
            column = metric.name if metric.name in frame.columns else next(
                c for c in frame.columns if c.startswith(metric.name)
            )
            for result, value in zip(scored, frame[column]):
                result.ragas[metric.name] = float(value)
            if judged:
                judge.record(metric.name, [float(v) for v in frame[column]])
