"""One LLM call on one backend: the langchain Runnable `prompt | chat model`, retried by `RetryPolicy`, every
attempt logged to the usage log and to the caller's `CallRecord`.

Shared by the answerer (app.llm.generate) and the review judge (app.review.llm_judge); what to do when a backend
gives up (fail over, fall back to extractive, fall back to the review rule) is the caller's decision.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from langchain_core.runnables import Runnable, RunnableLambda

from app.llm.backends import Backend, build_backends
from app.llm.resilience import BackendFailure, RetryPolicy, describe_llm_error
from app.llm.usage import UsageLog


@dataclass
class Generation:
    text: str
    backend: Backend
    usage: dict
    retries: int = 0


@dataclass
class CallRecord:
    """What one answer (or one review) cost: every LLM call made for it, summed for Answer.usage."""

    rows: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        ok = [r for r in self.rows if r["ok"]]
        if not self.rows:
            return {}
        costs = [r["cost_usd"] for r in ok if r["cost_usd"] is not None]
        return {
            "calls": len(self.rows),
            "failed_calls": len(self.rows) - len(ok),
            "input_tokens": sum(r["input_tokens"] for r in ok),
            "output_tokens": sum(r["output_tokens"] for r in ok),
            "latency_ms": round(sum(r["latency_ms"] for r in self.rows), 1),
            "cost_usd": round(sum(costs), 6) if len(costs) == len(ok) else None,
            "models": sorted({r["model"] for r in ok}),
        }


class ChatClient:
    def __init__(self, backends: list[Backend], usage_log: UsageLog, policy: RetryPolicy):
        self.backends = backends
        self.usage_log = usage_log
        self.policy = policy

    @property
    def generative(self) -> list[Backend]:
        """The LLM backends of the chain, in order, up to the extractive one (which ends the chain)."""
        backends = []
        for backend in self.backends:
            if not backend.generative:
                break
            backends.append(backend)
        return backends

    def chain(self, backend: Backend, prompt) -> Runnable:
        """prompt -> model -> text and usage: the langchain Runnable one backend runs."""
        return prompt | backend.chat() | RunnableLambda(_reply)

    def invoke(self, backend: Backend, prompt, inputs: dict, purpose: str, record: CallRecord) -> Generation:
        """The reply of one backend, after the policy's retries; BackendFailure when it gives up."""
        chain = self._chain_or_fail(backend, prompt)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                text, usage_meta, model = chain.invoke(inputs)
            except Exception as exc:  # noqa: BLE001 - every failure is either retried or a failover
                self._retry_or_give_up(backend, purpose, started, exc, attempt, record)
                attempt += 1
                continue
            usage = self._log_success(backend, purpose, started, usage_meta, model, attempt, record)
            return Generation(text, backend, usage, attempt)

    def stream(self, backend: Backend, prompt, inputs: dict, purpose: str, record: CallRecord) -> Iterator[str | Generation]:
        """Text deltas as the model writes them, then the whole Generation. Once text has been shown a
        failure is not retried (the caller fails over instead of repeating what the user already read)."""
        chain = self._chain_or_fail(backend, prompt, streaming=True)
        attempt = 0
        while True:
            started = time.perf_counter()
            parts: list[str] = []
            usage_meta: dict = {}
            model = ""
            try:
                for chunk in chain.stream(inputs):
                    model = model or (chunk.response_metadata or {}).get("model_name", "")
                    if chunk.usage_metadata:
                        usage_meta = dict(chunk.usage_metadata)
                    if chunk.content:
                        parts.append(chunk.content)
                        yield chunk.content
            except Exception as exc:  # noqa: BLE001
                self._retry_or_give_up(backend, purpose, started, exc, attempt, record, retryable=not parts)
                attempt += 1
                continue
            usage = self._log_success(backend, purpose, started, usage_meta, model, attempt, record)
            yield Generation("".join(parts), backend, usage, attempt)
            return

    def _chain_or_fail(self, backend: Backend, prompt, streaming: bool = False) -> Runnable:
        try:
            return prompt | backend.chat() if streaming else self.chain(backend, prompt)
        except Exception as exc:  # noqa: BLE001 - e.g. azure-identity missing: the next backend answers
            raise BackendFailure(backend.name, f"{type(exc).__name__}: {exc}") from exc

    def _retry_or_give_up(
        self, backend: Backend, purpose: str, started: float, exc: Exception, attempt: int, record: CallRecord,
        retryable: bool = True,
    ) -> None:
        """Log the failed attempt, then wait before the next one, or raise BackendFailure when the policy (or
        text already shown) says there is no next one."""
        self._log_failure(backend, purpose, started, exc, attempt, record)
        delay = self.policy.delay(attempt, exc) if retryable else None
        if delay is None:
            raise self.policy.give_up_reason(backend.name, attempt, exc) from exc
        self.policy.wait(delay)

    def _log_failure(self, backend: Backend, purpose: str, started: float, exc: Exception, attempt: int, record: CallRecord):
        row = self.usage_log.record(
            backend.name, backend.model_name, purpose, latency_ms=(time.perf_counter() - started) * 1000,
            ok=False, error=describe_llm_error(exc, self.policy.timeout), retries=attempt,
        )
        record.rows.append(row)
        _trace_call(row)

    def _log_success(self, backend, purpose, started, usage_meta, model, attempt, record) -> dict:
        row = self.usage_log.record(
            backend.name, model or backend.model_name, purpose,
            input_tokens=int((usage_meta or {}).get("input_tokens", 0) or 0),
            output_tokens=int((usage_meta or {}).get("output_tokens", 0) or 0),
            latency_ms=(time.perf_counter() - started) * 1000, ok=True, retries=attempt,
        )
        record.rows.append(row)
        _trace_call(row)
        return row


def _trace_call(row: dict) -> None:
    """The call as a span ending now that lasted its measured latency."""
    from app import telemetry

    ended = time.time_ns()
    telemetry.record_llm_call(row, ended - int(row["latency_ms"] * 1_000_000), ended)


def _reply(message) -> tuple[str, dict, str]:
    content = message.content if isinstance(message.content, str) else "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in message.content
    )
    return content, dict(message.usage_metadata or {}), (message.response_metadata or {}).get("model_name", "")


def client_from_settings(settings, sleep: Callable[[float], None] = time.sleep) -> ChatClient:
    """The chain of WAF_LLM_BACKEND and WAF_LLM_FALLBACKS with the retry policy and usage log of the settings
    (raises BackendConfigError when misconfigured)."""
    return ChatClient(
        build_backends(settings),
        UsageLog.from_settings(settings),
        RetryPolicy(
            max_retries=settings.llm_max_retries, base_seconds=settings.llm_retry_base_seconds,
            max_seconds=settings.llm_retry_max_seconds, timeout=settings.llm_timeout_seconds, sleep=sleep,
        ),
    )
