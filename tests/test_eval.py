"""The evaluation's metrics on hand-made cases, and the runner end to end on the fixture index."""
import math

import pytest

from eval.golden import load_golden
from eval.groundedness import CitedGroundedness, cited_sentences
from eval.metrics import key_fact_coverage, retrieval_scores
from eval.runner import run_questions, summarise
from tests.conftest import FIXTURES

A = "https://learn.microsoft.com/azure/well-architected/ai/test#a"
B = "https://learn.microsoft.com/azure/well-architected/ai/test#b"
C = "https://learn.microsoft.com/azure/well-architected/ai/other#c"


def test_retrieval_scores_by_anchor_and_by_page():
    scores = retrieval_scores([C, B, A], [A])
    assert scores["hit@1"] == 0 and scores["hit@3"] == 1 and scores["mrr@10"] == pytest.approx(1 / 3)
    assert scores["ndcg@10"] == pytest.approx(1 / math.log2(4))
    page = retrieval_scores([C, B, A], [A], page_only=True)
    assert page["hit@1"] == 0 and page["mrr@10"] == pytest.approx(1 / 2)  # B is on A's page


def test_a_gold_section_retrieved_twice_counts_once():
    assert retrieval_scores([A, A], [A])["ndcg@10"] == pytest.approx(1.0)


def test_key_fact_coverage_ignores_case_punctuation_and_order():
    text = "Use Customer-managed keys; TLS 1.2 in transit."
    assert key_fact_coverage(text, ["customer managed keys", "tls", "private endpoint"]) == pytest.approx(2 / 3)


def test_groundedness_counts_sentences_supported_by_the_source_they_cite(embedder):
    contexts = ["Use private endpoints for Azure OpenAI. Disable public network access.", "Cache repeated prompts."]
    response = (
        "**Security**\n- Use private endpoints for Azure OpenAI. [1]\n- Cache repeated prompts. [1]\n"
        "- The moon is made of cheese. [2]\n- Disable public network access. [9]"
    )
    assert [n for _, n in cited_sentences(response)] == [[1], [1], [2], [9]]
    metric = CitedGroundedness(embedder=embedder)
    assert metric.score_response(response, contexts) == pytest.approx(1 / 4)


def test_a_bullet_closed_by_one_marker_cites_it_for_each_of_its_sentences(embedder):
    contexts = ["Throttle batch callers first. This keeps chat responsive during surges."]
    response = "- Throttle batch callers first. This keeps chat responsive during surges. [1]\n"
    assert [n for _, n in cited_sentences(response)] == [[1], [1]]
    assert CitedGroundedness(embedder=embedder).score_response(response, contexts) == 1.0
    # prose is not a bullet: a sentence without its own marker stays uncited
    assert [n for _, n in cited_sentences("Throttle batch callers first. This keeps chat responsive. [1]")] == [[], [1]]


def test_groundedness_accepts_a_paraphrase_close_to_its_source(embedder):
    metric = CitedGroundedness(embedder=embedder)
    contexts = ["Turn off public network access on the Azure OpenAI resource."]
    assert metric.score_response("- Disable public network access on the Azure OpenAI resource. [1]", contexts) == 1.0


def test_runner_scores_the_assistant_end_to_end(assistant):
    questions = load_golden(FIXTURES / "golden-mini.jsonl")
    results = run_questions(assistant, questions)
    summary = summarise(results)
    assert summary["questions"] == 3 and summary["answerable"] == 2
    assert summary["retrieval_anchor"]["hit@5"] == 1.0
    assert summary["refusal_accuracy"] == 1.0
    assert set(summary["per_pillar"]) == {"security", "reliability"}


def test_ragas_evaluate_runs_offline_on_our_answers(assistant, embedder):
    from eval.ragas_eval import score_with_ragas

    results = run_questions(assistant, load_golden(FIXTURES / "golden-mini.jsonl"))
    score_with_ragas(results, embedder, {})
    scored = [r for r in results if r.question.answerable]
    for r in scored:
        assert set(r.ragas) == {
            "non_llm_context_recall", "non_llm_context_precision_with_reference", "rouge_score", "cited_groundedness"
        }
        assert r.ragas["cited_groundedness"] == 1.0  # extractive answers quote their sources


def test_thresholds_gate_on_dotted_paths_and_missing_figures():
    from eval.__main__ import check_thresholds

    results = {"summary": {"retrieval_page": {"hit@5": 0.61}, "refusal_accuracy": 0.9}}
    thresholds = {"summary": {"retrieval_page": {"hit@5": 0.6}, "refusal_accuracy": 0.95, "nothing": 0.1}}
    assert check_thresholds(results, thresholds) == [
        "summary.refusal_accuracy: 0.9000 < 0.95",
        "summary.nothing: missing from the results",
    ]


def test_review_metrics_count_raised_findings_against_labels():
    from app.review.assess import Finding
    from eval.review_eval import review_scores, statuses

    def finding(item, status):
        return Finding(item_id=item, pillar="security", title="t", status=status, severity="high",
                       recommendation="r", risk="r")

    expected = [
        {"design": "d.md", "item_id": "A", "pillar": "security", "severity": "high", "expected": "missing"},
        {"design": "d.md", "item_id": "B", "pillar": "security", "severity": "high", "expected": "addressed"},
        {"design": "d.md", "item_id": "C", "pillar": "security", "severity": "high", "expected": "partial"},
        {"design": "d.md", "item_id": "D", "pillar": "security", "severity": "high", "expected": "addressed"},
    ]
    findings = {"d.md": [finding("A", "missing"), finding("B", "partial"), finding("C", "addressed"), finding("D", "missing")]}
    scores = review_scores(expected, statuses(findings))["overall"]
    # raised: A, B, D; real gaps among them: A. Reported missing: A (right) and D (wrong).
    assert scores == {
        "labelled": 4, "precision": pytest.approx(1 / 3, abs=1e-4), "recall": 0.5, "missing_precision": 0.5,
        "status_accuracy": 0.25,
    }


def test_the_score_from_labels_weighs_labels_as_the_review_weighs_findings():
    from eval.review_eval import label_score

    rows = [
        {"item_id": "A", "severity": "high", "expected": "addressed"},  # 3 of 3
        {"item_id": "B", "severity": "low", "expected": "partial"},  # 0.5 of 1
        {"item_id": "C", "severity": "medium", "expected": "missing"},  # 0 of 2
        {"item_id": "D", "severity": "high", "expected": "not-applicable"},  # not counted
    ]
    assert label_score(rows) == round(100 * 3.5 / 6)
    assert label_score(rows[3:]) is None


def test_a_skipped_section_is_not_gated_but_a_present_one_is():
    from eval.__main__ import check_thresholds

    thresholds = {"official_docs": {"test": {"overall": {"page_hit@5": 0.9}}}}
    skipped = {"official_docs": {"skipped": "official docs not found"}}
    assert check_thresholds(skipped, thresholds) == []
    measured = {"official_docs": {"test": {"overall": {"page_hit@5": 0.8}}}}
    assert check_thresholds(measured, thresholds) == ["official_docs.test.overall.page_hit@5: 0.8000 < 0.9"]


def test_the_official_eval_says_skipped_without_the_docs(tmp_path):
    from core.settings import Settings
    from eval.official_eval import find_official_docs, official_metrics

    settings = Settings(_env_file=None, docs_cache_dir=tmp_path / "none")
    given = tmp_path / "docs" / "well-architected"
    given.mkdir(parents=True)
    assert find_official_docs(settings, given) == given  # an explicit --docs wins
    assert find_official_docs(settings, tmp_path / "missing") == find_official_docs(settings)  # falls through
    assert official_metrics(settings, None) == {
        "skipped": "official docs not found: run `waf-assistant docs sync` or pass --docs"
    }
