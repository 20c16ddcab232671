"""How long a throttled service asked us to wait, read from the error's HTTP response (stdlib only).

Shared by the Azure AI Search ingest and the LLM backends, which both honour it before retrying.
"""
from __future__ import annotations

import email.utils
import time


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
