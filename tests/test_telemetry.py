"""Telemetry with an in-memory exporter: the spans and attributes an operator gets, and no question or document text
unless the setting asks for it."""
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.settings import get_settings
from tests.conftest import FIXTURES
from tests.test_api import api

QUESTION = "What does SE:07 ask for?"
_SPANS, _METRICS = InMemorySpanExporter(), InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers():
    """The process's global providers, set once (OpenTelemetry allows one per process)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_METRICS]))
    yield


@pytest.fixture
def spans():
    _SPANS.clear()
    return _SPANS


def ancestors(span, finished) -> set[int]:
    by_id = {s.context.span_id: s for s in finished}
    found = set()
    while span.parent is not None:
        found.add(span.parent.span_id)
        span = by_id.get(span.parent.span_id)
        if span is None:
            break
    return found


def attribute_values(finished) -> str:
    return " ".join(str(v) for s in finished for v in s.attributes.values())


def metric_points(name: str) -> list:
    data = _METRICS.get_metrics_data()
    return [point for resource in data.resource_metrics for scope in resource.scope_metrics for metric in scope.metrics
            if metric.name == name for point in metric.data.data_points]


def test_a_request_is_a_server_span_with_retrieve_under_the_answer_and_no_question_text(corpus_index, tmp_path, spans):
    with api(corpus_index, tmp_path) as client:
        assert client.post("/ask", json={"question": QUESTION}).status_code == 200
    finished = {s.name: s for s in spans.get_finished_spans()}
    request, answer, retrieve = finished["POST /ask"], finished["waf.answer"], finished["waf.retrieve"]
    assert request.kind == trace.SpanKind.SERVER and request.parent is None  # FastAPI's own span of the request
    assert request.context.span_id in ancestors(answer, finished.values())
    assert retrieve.parent.span_id == answer.context.span_id
    assert answer.attributes["waf.backend"] == "extractive" and answer.attributes["waf.refused"] is False
    assert answer.attributes["waf.citations"] >= 1 and retrieve.attributes["waf.hits"] >= 1
    assert QUESTION not in attribute_values(finished.values()) and "SE:07" not in attribute_values(finished.values())
    assert any(p.attributes["route"] == "/ask" for p in metric_points("waf.request.duration"))
    assert sum(p.value for p in metric_points("waf.answers")) >= 1


def test_content_goes_on_spans_only_when_the_setting_says_so(corpus_index, tmp_path, spans, monkeypatch):
    monkeypatch.setenv("WAF_TELEMETRY_CAPTURE_CONTENT", "true")
    get_settings.cache_clear()
    try:
        with api(corpus_index, tmp_path) as client:
            client.post("/ask", json={"question": QUESTION})
    finally:
        get_settings.cache_clear()
    answer = next(s for s in spans.get_finished_spans() if s.name == "waf.answer")
    assert answer.attributes["waf.question"] == QUESTION and "[1]" in answer.attributes["waf.answer"]


def test_a_review_is_a_span_with_its_counts_and_no_document_text(corpus_index, tmp_path, spans):
    with api(corpus_index, tmp_path) as client, (FIXTURES / "design-rag.md").open("rb") as design:
        assert client.post("/review", files={"file": ("design.md", design)}).status_code == 200
    review = next(s for s in spans.get_finished_spans() if s.name == "waf.review")
    assert review.attributes["waf.document.kind"] == "markdown" and review.attributes["waf.findings.missing"] >= 1
    assert "private endpoints" not in attribute_values(spans.get_finished_spans())
    assert metric_points("waf.review.duration")


def test_llm_calls_are_spans_with_tokens_retries_and_the_backend(corpus_index, fake_openai, spans):
    from app.assistant import Assistant
    from tests.conftest import make_settings
    from tests.fake_openai import reply, status

    fake_openai.script(status(429, retry_after="0"), reply())  # one throttled attempt, then an answer
    settings = make_settings(corpus_index.index_dir, llm_backend="openai", openai_base_url=fake_openai.base_url,
                             openai_api_key="test", llm_retry_base_seconds=0.01, usage_log=False)
    answer = Assistant.open(settings).ask(QUESTION)
    finished = spans.get_finished_spans()
    calls = [s for s in finished if s.name == "waf.llm.call"]
    generate = next(s for s in finished if s.name == "waf.generate")
    assert [c.attributes["waf.llm.ok"] for c in calls] == [False, True]
    assert calls[1].attributes["waf.llm.retries"] == 1 and calls[1].attributes["waf.llm.input_tokens"] > 0
    assert all(c.parent.span_id == generate.context.span_id for c in calls)
    assert any(s.name == "waf.citation_check" for s in finished)
    answer_span = next(s for s in finished if s.name == "waf.answer")
    assert answer_span.attributes["waf.backend"] == answer.backend and answer_span.attributes["waf.llm.failed_calls"] == 1
    assert sum(p.value for p in metric_points("waf.llm.calls")) >= 2


def test_a_streamed_chat_keeps_its_spans_together_without_context_errors(corpus_index, tmp_path, spans, caplog):
    """The server steps the answer's generator in its thread pool: spans must not stay attached across yields
    (that logged 'Failed to detach context' for every streamed chat)."""
    with api(corpus_index, tmp_path) as client:
        response = client.post("/chat", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True})
        assert response.status_code == 200 and response.text.strip()
    finished = spans.get_finished_spans()
    answer = next(s for s in finished if s.name == "waf.answer")
    retrieve = next(s for s in finished if s.name == "waf.retrieve")
    assert answer.attributes["waf.streamed"] is True and answer.attributes["waf.citations"] >= 1
    assert retrieve.parent.span_id == answer.context.span_id
    assert "Failed to detach context" not in caplog.text
