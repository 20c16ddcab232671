"""The generative path's pure parts: marker repair, claims, Retry-After, backoff, price table, backends config,
follow-up rule, follow-up suggestions, and the support-threshold calibration."""
import email.utils
import time
from types import SimpleNamespace

import pytest

from app.conversation.followups import question_for
from app.conversation.memory import history_turns, rule_rewrite
from app.llm.backends import build_backends
from app.llm.citations import extract_claims, is_decline, repair_markers
from app.llm.resilience import BackendConfigError, RetryPolicy
from app.llm.usage import UsageLog, estimate_cost, price_for
from core.retry import retry_after_seconds
from tests.conftest import make_settings


def test_marker_repair_keeps_valid_numbers_and_counts_the_rest():
    text, removed, cited = repair_markers("Use X [2, 9]. Do Y [Source 3]. Do Z [0][4].\n\nSources:\n[1] a", 3)
    assert text == "Use X [2]. Do Y [3]. Do Z." and removed == 3 and cited == [2, 3]


def test_claims_skip_headings_and_inherit_the_next_marker_of_their_paragraph():
    claims = extract_claims("**Security**\n- Use managed identities. Grant least privilege. [2]\n- Uncited claim here.")
    assert [(c.text, c.numbers) for c in claims] == [
        ("Use managed identities.", [2]), ("Grant least privilege.", [2]), ("Uncited claim here.", []),
    ]


def test_decline_detection():
    assert is_decline("The guidance I have does not cover this.")
    assert not is_decline("Use private endpoints [1].")


def _error(status, headers):
    return SimpleNamespace(status_code=status, response=SimpleNamespace(headers=headers))


def test_retry_after_in_seconds_milliseconds_and_http_date():
    assert retry_after_seconds(_error(429, {"retry-after": "3"})) == 3
    assert retry_after_seconds(_error(429, {"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(_error(503, {"retry-after": date})) <= 31
    assert retry_after_seconds(_error(503, {})) is None


def test_policy_retries_only_transient_errors_within_its_budget():
    policy = RetryPolicy(max_retries=2, base_seconds=1, max_seconds=10, jitter=lambda: 1.0)
    assert policy.delay(0, _error(503, {})) == 1 and policy.delay(1, _error(500, {})) == 2
    assert policy.delay(2, _error(500, {})) is None  # budget spent
    assert policy.delay(0, _error(400, {})) is None and policy.delay(0, _error(401, {})) is None
    assert policy.delay(0, _error(429, {"retry-after": "4"})) == 4
    assert policy.delay(0, _error(429, {"retry-after": "60"})) is None  # longer than max: fail over instead


def test_price_table_matches_model_versions_by_prefix(tmp_path):
    prices = {"gpt-4o": {"input_per_1k": 1.0, "output_per_1k": 2.0}, "gpt-4o-mini": {"input_per_1k": 0.1, "output_per_1k": 0.2}}
    assert price_for(prices, "gpt-4o-mini-2024-07-18") == prices["gpt-4o-mini"]
    assert price_for(prices, "GPT-4o-2024-08-06") == prices["gpt-4o"]
    assert estimate_cost(prices, "gpt-4o", 1500, 500) == pytest.approx(2.5)
    assert estimate_cost(prices, "llama3.1", 10, 10) is None
    log = UsageLog(f"sqlite:///{tmp_path / 'u.sqlite'}", prices)
    log.record("ollama", "llama3.1", "answer", 10, 5, 12.0)
    log.record("openai", "gpt-4o", "answer", 1000, 1000, 30.0)
    rows = {r["backend"]: r for r in log.totals()}
    assert rows["ollama"]["unpriced"] == 1 and rows["ollama"]["cost_usd"] is None
    assert rows["openai"]["cost_usd"] == pytest.approx(3.0)


def test_usage_log_can_be_switched_off(tmp_path):
    log = UsageLog(None)
    assert log.record("openai", "gpt-4o", "answer", 1, 1)["input_tokens"] == 1 and log.totals() == []


def test_backend_chain_from_settings(tmp_path):
    settings = make_settings(
        tmp_path, llm_backend="azure-openai", azure_openai_endpoint="https://primary.openai.azure.com",
        azure_openai_deployment="gpt-4o", llm_fallbacks=[
            {"backend": "azure-openai", "name": "azure-secondary", "endpoint": "https://secondary.openai.azure.com"},
            "extractive", "openai",
        ],
    )
    chain = build_backends(settings)
    assert [b.name for b in chain] == ["azure-openai", "azure-secondary", "extractive"]  # nothing after extractive
    assert chain[1].options["azure_endpoint"] == "https://secondary.openai.azure.com"
    assert chain[1].options["azure_deployment"] == "gpt-4o" and chain[0].options["max_retries"] == 0


def test_backend_configuration_errors_are_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendConfigError, match="needs WAF_OPENAI_API_KEY"):
        build_backends(make_settings(tmp_path, llm_backend="openai"))
    with pytest.raises(BackendConfigError, match="unknown LLM backend 'claude'"):
        build_backends(make_settings(tmp_path, llm_fallbacks=["claude"]))
    with pytest.raises(BackendConfigError, match="unknown keys"):
        build_backends(make_settings(tmp_path, llm_backend="openai", openai_base_url="http://x/v1",
                                     llm_fallbacks=[{"backend": "openai", "endpoint": "x"}]))
    local = build_backends(make_settings(tmp_path, llm_backend="openai", openai_base_url="http://127.0.0.1:11434/v1"))
    assert local[0].options["api_key"] == "not-needed"  # Ollama and friends take any key


def test_rule_rewrite_of_follow_ups():
    turns = [("How do I keep inference available across regions?", "...")]
    assert rule_rewrite("and for cost?", turns) == "How do I keep inference available across regions? What about cost?"
    assert rule_rewrite("Same for security", turns).endswith("What about security?")
    assert rule_rewrite("is that expensive?", turns) == "How do I keep inference available across regions? is that expensive?"
    assert rule_rewrite("How do I encrypt prompts at rest?", turns) == "How do I encrypt prompts at rest?"
    assert rule_rewrite("and for cost?", []) == "and for cost?"


def test_history_accepts_pairs_role_dicts_and_keeps_the_last_turns():
    chat = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    assert history_turns(chat) == [("q1", "a1"), ("q2", "a2")]
    assert history_turns([("a", "b"), ("c", "d")], max_turns=1) == [("c", "d")]


def test_follow_up_questions_read_naturally():
    assert question_for("SE:07 Encrypt data") == "How do I encrypt data?"
    assert question_for("Azure OpenAI networking") == "What does the guidance say about Azure OpenAI networking?"
    assert question_for("Key practices", "SE:08 Harden all workload components") == (
        "How do I harden all workload components (key practices)?"
    )
    assert question_for("For AI workloads", "RE:07 Self-preservation") == "What does the guidance say about self-preservation for AI workloads?"
    assert question_for("Trade-offs", "Deploy models to endpoints") == "What are the trade-offs when I deploy models to endpoints?"
    # a verb-like first word that names a thing ("Design checklist") is not a task ("How do I design checklist?")
    assert question_for("Design checklist") == "What does the guidance say about the design checklist?"
    assert question_for("Design checklist", "Security") == "What does the guidance say about security (design checklist)?"


def test_support_threshold_is_calibrated_on_the_fixture_pairs(assistant, embedder):
    """The default WAF_LLM_SUPPORT_THRESHOLD separates paraphrases from unsupported claims on the fixtures."""
    from app.llm.citations import CitationVerifier
    from core.settings import Settings
    from eval.calibrate_support import calibrate, fixture_pairs

    default = Settings.model_fields["llm_support_threshold"].default
    verifier = CitationVerifier(embedder, default, assistant.index.stored.sentences)
    result = calibrate(verifier, fixture_pairs(assistant.index.stored))
    assert result["supported"] >= 28 and result["unsupported"] >= 40
    assert result["accuracy_at_current"] >= 0.9
    assert abs(result["threshold"] - default) <= 0.05
