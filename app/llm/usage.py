"""Usage log: tokens in/out from the API's usage fields, latency and estimated cost, per call, in SQLite.

Token counts come only from the response (`usage`, or the final stream chunk with stream_usage=True):
nothing here tokenizes, so nothing needs tiktoken. Cost is an estimate from the configurable price table
(`WAF_LLM_PRICES`, USD per 1,000 tokens); a model missing from it is logged with no cost.
"""
from __future__ import annotations

import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """CREATE TABLE IF NOT EXISTS llm_usage (
    ts TEXT NOT NULL, day TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL, purpose TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, latency_ms REAL NOT NULL,
    cost_usd REAL, ok INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', retries INTEGER NOT NULL DEFAULT 0
)"""


def price_for(prices: dict[str, dict[str, float]], model: str) -> dict[str, float] | None:
    """Exact model name first, else the longest table key the name starts with (gpt-4o-2024-08-06 -> gpt-4o)."""
    name = (model or "").lower()
    table = {k.lower(): v for k, v in prices.items()}
    if name in table:
        return table[name]
    matches = [k for k in table if name.startswith(k)]
    return table[max(matches, key=len)] if matches else None


def estimate_cost(prices: dict[str, dict[str, float]], model: str, input_tokens: int, output_tokens: int) -> float | None:
    price = price_for(prices, model)
    if price is None:
        return None
    return input_tokens / 1000 * float(price.get("input_per_1k", 0)) + output_tokens / 1000 * float(
        price.get("output_per_1k", 0)
    )


class UsageLog:
    def __init__(self, path: Path | str | None, prices: dict[str, dict[str, float]] | None = None):
        self.path = Path(path) if path and str(path) not in ("", ".") else None
        self.prices = prices or {}

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(SCHEMA)
        return connection

    def record(
        self, backend: str, model: str, purpose: str, input_tokens: int = 0, output_tokens: int = 0,
        latency_ms: float = 0.0, ok: bool = True, error: str = "", retries: int = 0,
    ) -> dict:
        row = {
            "backend": backend, "model": model, "purpose": purpose, "input_tokens": int(input_tokens),
            "output_tokens": int(output_tokens), "latency_ms": round(latency_ms, 1),
            "cost_usd": estimate_cost(self.prices, model, input_tokens, output_tokens) if ok else None,
            "ok": ok, "error": error, "retries": retries,
        }
        if self.path is None:
            return row
        now = datetime.now(UTC)
        try:
            with self._connect() as connection:
                connection.execute(
                    "INSERT INTO llm_usage VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (now.isoformat(timespec="seconds"), now.date().isoformat(), backend, model, purpose,
                     row["input_tokens"], row["output_tokens"], row["latency_ms"], row["cost_usd"], int(ok), error,
                     retries),
                )
            connection.close()
        except (sqlite3.Error, OSError) as exc:  # the log must never cost the user an answer
            print(f"warning: usage log {self.path} not written: {exc}", file=sys.stderr)
        return row

    def totals(self, days: int | None = None) -> list[dict]:
        """Calls, failures, tokens, latency and cost per day and backend, newest day first."""
        if self.path is None or not self.path.exists():
            return []
        where, params = "", ()
        if days:
            since = datetime.fromtimestamp(time.time() - days * 86400, UTC).date().isoformat()
            where, params = "WHERE day >= ?", (since,)
        with self._connect() as connection:
            rows = connection.execute(
                f"""SELECT day, backend, COUNT(*), SUM(1 - ok), SUM(input_tokens), SUM(output_tokens),
                    AVG(latency_ms), SUM(cost_usd), SUM(CASE WHEN ok AND cost_usd IS NULL THEN 1 ELSE 0 END)
                    FROM llm_usage {where} GROUP BY day, backend ORDER BY day DESC, backend""",
                params,
            ).fetchall()
        connection.close()
        keys = ("day", "backend", "calls", "failed", "input_tokens", "output_tokens", "avg_latency_ms", "cost_usd", "unpriced")
        return [dict(zip(keys, row)) for row in rows]


def format_totals(rows: list[dict]) -> str:
    if not rows:
        return "no LLM calls logged yet"
    header = f"{'day':<10}  {'backend':<18} {'calls':>5} {'failed':>6} {'tokens in':>10} {'tokens out':>10} {'avg ms':>8} {'cost USD':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        cost = f"{r['cost_usd']:.4f}" if r["cost_usd"] is not None else "n/a"
        if r["unpriced"]:
            cost += "*"
        lines.append(
            f"{r['day']:<10}  {r['backend']:<18} {r['calls']:>5} {r['failed']:>6} {r['input_tokens']:>10} "
            f"{r['output_tokens']:>10} {r['avg_latency_ms']:>8.0f} {cost:>10}"
        )
    total_in = sum(r["input_tokens"] for r in rows)
    total_out = sum(r["output_tokens"] for r in rows)
    total_cost = sum(r["cost_usd"] or 0 for r in rows)
    lines.append("-" * len(header))
    lines.append(f"{'total':<10}  {'':<18} {sum(r['calls'] for r in rows):>5} {sum(r['failed'] for r in rows):>6} "
                 f"{total_in:>10} {total_out:>10} {'':>8} {total_cost:>10.4f}")
    if any(r["unpriced"] for r in rows):
        lines.append("* some calls used a model missing from WAF_LLM_PRICES; their cost is not counted")
    return "\n".join(lines)
