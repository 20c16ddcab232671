"""Timeouts, retries with exponential backoff that honour Retry-After, and one-line failure reasons.

The OpenAI client's own retries are switched off (max_retries=0) so that this policy is the only one:
it retries 408/409/429/5xx, timeouts and connection errors; waits Retry-After (or retry-after-ms) when the
server sends it, else base * 2^attempt with jitter, capped; gives up on a backend at once when the server
asks for a longer wait than the cap, so the next backend in the chain answers instead of the user waiting.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.retry import Backoff, retry_after_seconds

RETRYABLE_STATUS = frozenset({408, 409, 429})


class BackendFailure(Exception):
    """One backend could not answer (after its retries). `reason` is one line for the user."""

    def __init__(self, backend: str, reason: str, retries: int = 0):
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason
        self.retries = retries


class AllBackendsFailed(RuntimeError):
    def __init__(self, failures: list[BackendFailure]):
        detail = "; ".join(str(f) for f in failures) or "no backend configured"
        super().__init__(f"no answer backend is available ({detail})")
        self.failures = failures


class BackendConfigError(ValueError):
    """A backend is misconfigured (missing endpoint, key, package): not a transient fault, so not retried."""


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    status = status_of(exc)
    return status is not None and (status in RETRYABLE_STATUS or status >= 500)


def describe_llm_error(exc: BaseException, timeout: float | None = None) -> str:
    """One line, no traceback: what went wrong, in the user's terms."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"timed out after {timeout:g}s" if timeout else "timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        return f"cannot connect{detail}"[:300]
    status = status_of(exc)
    if status is not None:
        message = getattr(exc, "message", "") or str(exc)
        return f"HTTP {status}: {message}"[:300].replace("\n", " ")
    return f"{type(exc).__name__}: {exc}"[:300].replace("\n", " ")


@dataclass
class RetryPolicy(Backoff):
    """Backoff for chat-model calls: retries only transient faults; `timeout` is the per-call limit, for messages."""

    timeout: float | None = None

    def delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before retry number attempt+1, or None when this error must not be retried."""
        if not is_transient(exc):
            return None
        return self.next_wait(attempt, retry_after_seconds(exc))

    def give_up_reason(self, backend: str, attempt: int, exc: BaseException) -> BackendFailure:
        reason = describe_llm_error(exc, self.timeout)
        asked = retry_after_seconds(exc)
        if is_transient(exc) and asked is not None and asked > self.max_seconds and attempt < self.max_retries:
            reason += f" (Retry-After {asked:g}s is longer than the {self.max_seconds:g}s limit)"
        elif attempt:
            reason += f" (after {attempt} {'retry' if attempt == 1 else 'retries'})"
        return BackendFailure(backend, reason, attempt)
