"""One retry policy for every remote call (the LLM backends and Azure AI Search): bounded retries, the wait
the service asks for (Retry-After, retry-after-ms) when it sends one, else exponential backoff with jitter.

What counts as transient, and what to say when giving up, belongs to each caller (app.llm.resilience,
index.azure_search.store); the arithmetic and the bookkeeping of waits are here, once. Stdlib only.
"""
from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def retry_after_seconds(exc: BaseException) -> float | None:
    """What the service asked for: retry-after-ms, or Retry-After in seconds or as an HTTP date."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


@dataclass
class Backoff:
    max_retries: int = 2
    base_seconds: float = 0.5
    max_seconds: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    waits: list[float] = field(default_factory=list)  # every wait taken (the last 100), for tests and logs

    def backoff(self, attempt: int) -> float:
        """base * 2^attempt, capped at max_seconds, with jitter in its upper half."""
        return min(self.max_seconds, self.base_seconds * (2**attempt)) * (0.5 + 0.5 * self.jitter())

    def next_wait(self, attempt: int, asked: float | None) -> float | None:
        """Seconds before retry number attempt+1, or None when there is none: the retries are used up, or the
        service asks for a longer wait than max_seconds (better to fail over than to keep the user waiting)."""
        if attempt >= self.max_retries:
            return None
        if asked is not None:
            return asked if asked <= self.max_seconds else None
        return self.backoff(attempt)

    def wait(self, seconds: float) -> None:
        self.waits = self.waits[-99:] + [seconds]  # bounded: a long-running process keeps its policy
        if seconds > 0:
            self.sleep(seconds)
