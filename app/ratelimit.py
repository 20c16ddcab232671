"""Per-user rate limits (questions and reviews per minute) so one user cannot spend the team's model quota.

A sliding window per (user, kind), kept in the process: each API or UI process enforces its own limit (several
instances behind a load balancer multiply it; docs/service.md says so).
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque


class RateLimited(Exception):
    def __init__(self, kind: str, limit: int, retry_after: int):
        super().__init__(f"rate limit: {limit} {kind} per minute per user; try again in {retry_after} s")
        self.kind = kind
        self.limit = limit
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, limits: dict[str, int], window_seconds: float = 60.0, clock=time.monotonic):
        self.limits = limits  # kind -> allowed per window; 0 = unlimited
        self.window = window_seconds
        self.clock = clock
        self._events: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, user: str, kind: str) -> None:
        """Count one request, or raise RateLimited (nothing counted) when the user is over the limit."""
        limit = self.limits.get(kind, 0)
        if not limit:
            return
        now = self.clock()
        with self._lock:
            events = self._events[(user, kind)]
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= limit:
                raise RateLimited(kind, limit, max(1, math.ceil(events[0] + self.window - now)))
            events.append(now)

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:
        return cls({"questions": settings.rate_limit_questions, "reviews": settings.rate_limit_reviews})
