"""Traces and metrics with OpenTelemetry: a span per request with children for retrieve, generate (one per LLM
call: model, tokens, retries, backend, failures), citation check and review; counters and histograms an operator
can alert on. Exported to Azure Monitor when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (the
`azure-monitor` extra), to any OTLP endpoint when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the `otlp` extra), and
nowhere by default (the API's no-op providers).

Questions, answers and document text are never put on spans unless `WAF_TELEMETRY_CAPTURE_CONTENT=true`: the WAF's
own advice is to keep sensitive data out of logs and traces.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from opentelemetry import metrics, trace

T = TypeVar("T")
log = logging.getLogger(__name__)
tracer = trace.get_tracer("waf-assistant")
meter = metrics.get_meter("waf-assistant")

REQUEST_DURATION = meter.create_histogram("waf.request.duration", unit="ms", description="HTTP request latency")
ANSWERS = meter.create_counter("waf.answers", description="answers given, by backend and whether declined")
LLM_CALLS = meter.create_counter("waf.llm.calls", description="LLM call attempts, by backend and outcome")
LLM_TOKENS = meter.create_counter("waf.llm.tokens", description="LLM tokens, by backend and direction (input/output)")
FALLBACKS = meter.create_counter("waf.llm.fallbacks", description="answers given by a backend other than the first")
REVIEW_DURATION = meter.create_histogram("waf.review.duration", unit="ms", description="design review duration")

_configured = False


def capture_content() -> bool:
    from core.settings import get_settings

    return get_settings().telemetry_capture_content


@contextmanager
def span(name: str, **attributes):
    """A child span of the current one, with the attributes that are not None."""
    with tracer.start_as_current_span(name) as current:
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        yield current


def start_span(name: str, parent=None, **attributes):
    """A span that is not made current: for work that yields (a streamed answer), where a context attached
    before a `yield` would be detached in another context by the server's thread pool. End it yourself."""
    context = trace.set_span_in_context(parent) if parent is not None else None
    started = tracer.start_span(name, context=context)
    for key, value in attributes.items():
        if value is not None:
            started.set_attribute(key, value)
    return started


def within(current):
    """Make the span current for a block that does not yield, so spans started inside are its children."""
    return trace.use_span(current, end_on_exit=False)


def iterate_within(current, items: Iterator[T]) -> Iterator[T]:
    """Each step of the iterator runs with the span current; nothing stays attached across the yields."""
    items = iter(items)
    while True:
        with within(current):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


def content(current, **texts: str) -> None:
    """Put question, answer or document text on the span, only when the setting allows it."""
    if capture_content():
        for key, value in texts.items():
            current.set_attribute(f"waf.{key}", value)


def record_answer(current, answer, primary_backend: str | None = None) -> None:
    usage = answer.usage or {}
    attributes = {
        "waf.backend": answer.backend, "waf.refused": answer.refused, "waf.citations": len(answer.citations),
        "waf.pillars": ",".join(answer.pillars), "waf.best_score": round(float(answer.best_score), 4),
        "waf.tokens.input": int(usage.get("input_tokens", 0) or 0),
        "waf.tokens.output": int(usage.get("output_tokens", 0) or 0),
        "waf.llm.failed_calls": int(usage.get("failed_calls", 0) or 0),
    }
    for key, value in attributes.items():
        current.set_attribute(key, value)
    content(current, question=answer.question, answer=answer.text)
    ANSWERS.add(1, {"backend": answer.backend, "refused": answer.refused})
    if primary_backend and not answer.refused and answer.backend != primary_backend:
        current.set_attribute("waf.fallback", True)
        FALLBACKS.add(1, {"from": primary_backend, "to": answer.backend})


def record_llm_call(row: dict, started_ns: int, ended_ns: int) -> None:
    """One LLM call attempt (a row of the usage log) as a span of its own, and in the metrics."""
    call = tracer.start_span("waf.llm.call", start_time=started_ns)
    for key in ("backend", "model", "purpose", "input_tokens", "output_tokens", "retries", "ok"):
        call.set_attribute(f"waf.llm.{key}", row[key])
    if row.get("cost_usd") is not None:
        call.set_attribute("waf.llm.cost_usd", row["cost_usd"])
    if not row["ok"]:
        call.set_attribute("waf.llm.error", row.get("error", ""))
        call.set_status(trace.Status(trace.StatusCode.ERROR, row.get("error", "")))
    call.end(end_time=ended_ns)
    LLM_CALLS.add(1, {"backend": row["backend"], "ok": bool(row["ok"])})
    LLM_TOKENS.add(row["input_tokens"], {"backend": row["backend"], "direction": "input"})
    LLM_TOKENS.add(row["output_tokens"], {"backend": row["backend"], "direction": "output"})


def configure_telemetry() -> str:
    """Set up exporters from the environment, once per process; a line saying where telemetry goes."""
    global _configured
    if _configured:
        return "already configured"
    _configured = True
    if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        try:
            from azure.monitor.opentelemetry import configure_azure_monitor
        except ImportError:
            log.warning("APPLICATIONINSIGHTS_CONNECTION_STRING is set but azure-monitor-opentelemetry is not installed "
                        "(pip install -e '.[azure-monitor]'): no telemetry is exported")
            return "nowhere (azure-monitor-opentelemetry missing)"
        configure_azure_monitor()
        return "Azure Monitor (Application Insights)"
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed "
                        "(pip install -e '.[otlp]'): no telemetry is exported")
            return "nowhere (OTLP exporter missing)"
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "waf-assistant")})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(
            MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
        )
        return f"OTLP ({os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']})"
    return "nowhere (set APPLICATIONINSIGHTS_CONNECTION_STRING or OTEL_EXPORTER_OTLP_ENDPOINT)"
