"""Understanding the question before retrieval: abbreviations spelled out, several asks split, and requests the
assistant does not do declined with a sentence saying so. The assistant runs on the real fixture index."""
from __future__ import annotations

import pytest

from app.conversation.followups import question_for
from app.question import asking_sentences, expand, load_glossary, split_parts, understand
from app.scope import out_of_scope

GLOSSARY = {"AOAI": "Azure OpenAI", "PTU": "provisioned throughput units", "PAYG": "pay-as-you-go", "DR": "disaster recovery",
            "MI": "managed identity"}


def test_abbreviations_are_spelled_out_beside_themselves():
    assert expand("AOAI PTU or PAYG?", GLOSSARY) == (
        "AOAI (Azure OpenAI) PTU (provisioned throughput units) or PAYG (pay-as-you-go)?"
    )
    assert expand("aoai ptu?", GLOSSARY) == "aoai (Azure OpenAI) ptu (provisioned throughput units)?"  # any case
    assert expand("DR plan for MI", GLOSSARY) == "DR (disaster recovery) plan for MI (managed identity)"
    assert expand("a dr who would mi?", GLOSSARY) == "a dr who would mi?"  # two letters: only in capitals
    assert expand("Azure OpenAI (AOAI) quotas", GLOSSARY) == "Azure OpenAI (AOAI) quotas"  # already spelled out


def test_a_message_with_several_asks_is_split_into_parts():
    assert split_parts("We run GPT-4o in one region. How do we survive an outage? And what would a second region cost?") == (
        "We run GPT-4o in one region. How do we survive an outage?", "And what would a second region cost?",
    )
    assert split_parts("How should we retry on 429, also should we move to provisioned throughput?") == (
        "How should we retry on 429,", "should we move to provisioned throughput?",
    )
    # a dash or ", and" that opens a new question, as architects type them
    assert split_parts(
        "how should we load test our inference endpoint - what metrics matter and how do we simulate throttling 429s?"
    ) == ("how should we load test our inference endpoint what metrics matter", "how do we simulate throttling 429s?")
    assert split_parts("What is data drift versus concept drift, and how do we detect model decay?") == (
        "What is data drift versus concept drift", "how do we detect model decay?",
    )
    assert split_parts("Should we run AKS and Container Apps side by side?") == (
        "Should we run AKS and Container Apps side by side?",  # "and" inside one ask does not split
    )
    assert split_parts("PTU or PAYG?") == ("PTU or PAYG?",)
    assert split_parts("Why? Because the model is slow at peak hours for every user.") == (
        "Why? Because the model is slow at peak hours for every user.",
    )


@pytest.mark.parametrize("question,kind", [
    ("Write a Bicep template for a private Azure OpenAI account", "code"),
    ("give me a python snippet using tenacity that retries azure openai calls", "code"),
    ("What's the current price per 1K tokens for GPT-4o in East US 2?", "live-facts"),
    ("Is Azure OpenAI in West Europe having an outage right now?", "live-facts"),
    ("When will GPT-5 be generally available in Sweden Central?", "live-facts"),
    ("How do I configure guardrails for an agent in AWS Bedrock?", "other-cloud"),
    ("Which LLM tops the MMLU leaderboard this month?", "leaderboard"),
    # a new user's phrasings (2026-12-01) that slipped past the patterns
    ("Could you give me exactly what goes between <inbound> and </inbound> in APIM to cap each subscription at "
     "20k tokens per minute? I'll drop it straight into our repo.", "code"),
    ("The standby copy lives in the client's tenancy on Oracle's cloud. What should the guardrail settings and VCN "
     "layout look like on that side?", "other-cloud"),
])
def test_requests_the_assistant_does_not_do_are_recognised(question, kind):
    assert out_of_scope(question).kind == kind


@pytest.mark.parametrize("question", [
    "If Azure OpenAI is down, how should our chat app degrade gracefully?",
    "How should we retry when the model API returns 429?",
    "PTU or pay-as-you-go for a steady production load?",
    "How do we write prompts as versioned configuration?",
])
def test_guidance_questions_that_sound_close_are_not_declined(question):
    assert out_of_scope(question) is None


@pytest.mark.parametrize("name, count", [("scope-dev.jsonl", 50), ("scope-dev2.jsonl", 120)])
def test_the_scope_tuning_questions_stay_classified_as_labelled(name, count):
    """Both dev sets were written by helpers who never saw these patterns; the test split is not read here."""
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent.parent / "eval/blind" / name).read_text().splitlines()]
    wrong = [r["question"] for r in rows if (out_of_scope(r["question"]) is None) != r["answerable"]]
    assert len(rows) == count and not wrong, wrong


def test_the_assistant_declines_with_what_it_does_not_do_and_nearby_topics(assistant):
    answer = assistant.ask("Write me a Terraform module that deploys Azure OpenAI with managed identity")
    assert answer.refused and not answer.citations
    assert answer.text.startswith("I don't write code, templates or queries")
    assert answer.suggestions and answer.text.count("Nearby topics") == 1


def test_abbreviations_reach_the_guidance_they_stand_for(assistant):
    answer = assistant.ask("PTU vs PAYG?")
    assert not answer.refused
    assert any("ptu" in c.url.lower() or "provisioned" in c.passage.lower() for c in answer.citations)


def test_each_part_of_a_two_part_question_gets_guidance(assistant):
    answer = assistant.ask(
        "Our model endpoint runs in one region. How do we fail over to another region when it goes down? "
        "Also, how do we stop storing API keys for it?"
    )
    assert not answer.refused
    assert {"reliability", "security"} <= set(answer.pillars)


def test_follow_up_questions_never_ask_about_a_bare_qualifier():
    assert question_for("For AI workloads") == ""
    assert question_for("For AI workloads", "Optimize environment costs") == (
        "How do I optimize environment costs for AI workloads?"
    )


@pytest.fixture(scope="module")
def request_model():
    from app.scope import RequestModel
    from core.settings import Settings

    model = RequestModel.load(Settings(_env_file=None).scope_model_path)
    assert model is not None, "corpus/scope/request-model.json is missing: python -m eval.fit_scope_model"
    return model


@pytest.mark.parametrize("request_text", [
    "I'd love a ready-made Helm values file for running vLLM on our AKS GPU pool.",
    "send over the KQL I can paste into Log Analytics for token usage by deployment",
    "what is the going rate for a PTU in West Europe these days?",
    "is the AOAI service up in UK South at this moment, everything is timing out",
])
def test_the_request_model_declines_phrasings_no_pattern_foresaw(request_text, request_model, embedder):
    from app.scope import decide_scope

    assert out_of_scope(request_text) is None  # the patterns miss these
    decision = decide_scope(request_text, (request_text, embedder.encode([request_text])[0]), request_model)
    assert decision is not None and decision.kind == "request"


def test_the_request_model_also_reads_each_asking_sentence(request_model, embedder):
    """A scene before the ask dilutes the whole message; the asking sentence's own vector is read too."""
    from app.scope import decide_scope

    scene = "How should we design retries and backoff for Azure OpenAI calls?"
    ask = "what is the going rate for a PTU in West Europe these days?"
    scene_vector, ask_vector = embedder.encode([scene, ask])
    assert decide_scope(scene, (scene, scene_vector), request_model) is None
    decision = decide_scope(scene, (scene, scene_vector), request_model, [(ask, ask_vector)])
    assert decision is not None and decision.kind == "request"


def test_a_short_asking_sentence_is_not_read_on_its_own_by_the_request_model(request_model, embedder):
    from app.scope import decide_scope

    scene = "I need to understand what our ops team is supposed to do when a model quality alert fires."
    ask = "Who works with whom on it?"
    message = f"{scene} {ask}"
    vectors = embedder.encode([message, ask])
    assert request_model.declines(ask, vectors[1])  # alone, its six words read as a request
    assert decide_scope(message, (message, vectors[0]), request_model, [(ask, vectors[1])]) is None


@pytest.mark.parametrize("question", [
    "How should we design retries and backoff for Azure OpenAI calls?",
    "What should we monitor for a RAG workload in production?",
    "How do we keep PTU costs under control for a chat workload?",
    "Should we put APIM in front of Azure OpenAI as an AI gateway?",
])
def test_the_request_model_leaves_design_questions_alone(question, request_model, embedder):
    from app.scope import decide_scope

    assert decide_scope(question, (question, embedder.encode([question])[0]), request_model) is None


def test_the_assistant_uses_the_request_model_unless_turned_off(corpus_index, embedder):
    from app.assistant import Assistant

    request = "I'd love a ready-made Helm values file for running vLLM on our AKS GPU pool."
    off = Assistant.open(corpus_index.model_copy(update={"scope_classifier": False}), embedder)
    on = Assistant.open(corpus_index, embedder)
    assert off.request_model is None and on.request_model is not None
    answer = on.ask(request)
    assert answer.refused and answer.text.startswith("This reads as a request for something I don't do")


@pytest.mark.parametrize("name", ["scope-dev3.jsonl", "scope-dev4.jsonl", "scope-dev5.jsonl", "scope-dev7.jsonl",
                                  "scope-dev8.jsonl"])
def test_patterns_and_request_model_answer_every_guidance_question_of_the_later_dev_sets(name, request_model, embedder):
    """Guidance questions that mention Terraform, prices, AWS or SDKs in passing are answered; most requests to
    decline are declined (the model was fit on these dev sets; held out, dev5 went 0.68 -> 0.86 on the scope
    decision alone). The test split is not read here."""
    import json
    from pathlib import Path

    from app.question import load_glossary, understand
    from app.scope import decide_scope
    from core.settings import Settings

    glossary = load_glossary(Settings(_env_file=None).glossary_path)
    rows = [json.loads(line) for line in (Path(__file__).parent.parent / "eval/blind" / name).read_text().splitlines()]
    requests = [understand(r["question"], glossary).request for r in rows]
    declined = [decide_scope(r["question"], request, request_model) is not None
                for r, request in zip(rows, zip(requests, embedder.encode(requests)))]
    wrongly_declined = [r["question"] for r, d in zip(rows, declined) if d and r["answerable"]]
    to_decline = [d for r, d in zip(rows, declined) if not r["answerable"]]
    assert not wrongly_declined
    assert not to_decline or sum(to_decline) / len(to_decline) >= 0.75  # 0.78-0.9 on these sets; the rest fall to the relevance check


def test_the_request_models_words_are_read_as_scikit_learn_fitted_them():
    """TermWeights re-implements TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) so the model stays plain
    JSON: its score must equal the fitted vectorizer's features times the weights."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from app.scope import TermWeights

    texts = ["paste me the exact KQL for token usage", "How should we cache answers for the RAG chat?",
             "what is the current PTU price in West Europe", "exact exact values for the APIM policy please"]
    fitted = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit(texts)
    weights = np.random.default_rng(7).normal(size=len(fitted.vocabulary_))
    terms = TermWeights(dict(fitted.vocabulary_), fitted.idf_, weights)
    for text in texts + ["Exact values, EXACT values: paste me the KQL!", "nothing known here", ""]:
        expected = float((fitted.transform([text]) @ weights)[0])
        assert terms.score(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("request_text", [
    "can you put together the exact values for our APIM token limit policy, ready to commit",
    "just paste me the whole inbound section so I can commit it",
])
def test_the_request_models_words_catch_requests_the_embedding_alone_misses(request_text, request_model, embedder):
    import dataclasses

    from app.scope import decide_scope

    request = (request_text, embedder.encode([request_text])[0])
    assert out_of_scope(request_text) is None
    assert decide_scope(request_text, request, dataclasses.replace(request_model, terms=None)) is None
    assert decide_scope(request_text, request, request_model) is not None


def test_the_frameworks_name_frames_the_ask_but_is_not_searched_for():
    glossary = {"WAF": "Well-Architected Framework", "AKS": "Azure Kubernetes Service"}
    asked = "Does WAF have an opinion on how our shared AKS cluster should keep other pods off the GPU nodes?"
    understood = understand(asked, glossary)
    assert "WAF" not in understood.expanded and "Well-Architected" not in understood.expanded
    assert "AKS (Azure Kubernetes Service)" in understood.expanded
    assert understood.request == "Does WAF (Well-Architected Framework) have an opinion on how our shared AKS (Azure " \
        "Kubernetes Service) cluster should keep other pods off the GPU nodes?"  # the scope decision reads it all
    about_the_framework = understand("How does the Well-Architected Framework define an AI workload?", glossary)
    assert about_the_framework.expanded == about_the_framework.request == about_the_framework.text


def test_nearby_topics_name_each_document_once(tmp_path, embedder):
    """A decline lists a page once, not its two nearest sections as two topics."""
    from app.assistant import Assistant
    from ingest.pipeline import run_ingest
    from tests.conftest import FIXTURE_DOCFX, make_settings

    settings = make_settings(tmp_path / "index").model_copy(update={"corpus_paths": [FIXTURE_DOCFX]})
    run_ingest(settings, paths=[FIXTURE_DOCFX], embedder=embedder, show_progress=False)
    answer = Assistant.open(settings, embedder).ask(
        "Write me a Bicep template for the inference endpoint with GPU quotas and a cache for repeated prompts")
    assert answer.refused and answer.suggestions
    titles = [topic.split(" > ")[0] for topic in answer.suggestions]
    assert len(titles) == len(set(titles)), answer.suggestions


def test_the_asking_sentences_of_a_message_that_sets_a_scene_are_kept_apart():
    assert asking_sentences(
        "Security reviewer here. The assistant can call three tools. What controls should be in place before go-live?"
    ) == ("What controls should be in place before go-live?",)
    assert asking_sentences("How do we retry on 429? And what does a second region cost us?") == ()  # all asking
    assert asking_sentences("We run GPT-4o. PTU or PAYG?") == ()  # too short to stand alone


def test_a_scene_before_the_question_does_not_talk_the_assistant_out_of_answering(corpus_index, embedder):
    """The decline hangs on the best similarity to the guidance; a long scene lowers the whole message's, so the
    asking sentence is searched on its own too, and a threshold between the two no longer declines."""
    from app.assistant import Assistant

    message = (
        "Context from our team channel: Dana is out until Monday, the coffee machine on floor three is broken again, "
        "and the quarterly offsite moved to the lake house. Ravi pasted the incident notes from last night's on-call. "
        "How should our chat service retry calls to the model when it returns 429 throttling errors?"
    )
    assistant = Assistant.open(corpus_index, embedder)
    understood = understand(message, load_glossary(corpus_index.glossary_path))
    whole = max(h.dense_score or 0.0 for h in assistant.retriever.search(understood.expanded))
    alone = assistant._best_for_asks(list(zip(understood.asks, embedder.encode(list(understood.asks)))), None)
    assert understood.asks and alone > whole
    between = corpus_index.model_copy(update={"relevance_threshold": (whole + alone) / 2})
    answer = Assistant.open(between, embedder).ask(message)
    assert not answer.refused and answer.citations
    assert answer.best_score == pytest.approx(alone)
