"""Usage log: tokens in/out from the API's usage fields, latency and estimated cost, per call, in the project
database (`WAF_USAGE_LOG=false` turns it off; a usage file of an earlier version, `WAF_USAGE_DB`, is imported once).

Token counts come only from the response (`usage`, or the final stream chunk with stream_usage=True):
nothing here tokenizes, so nothing needs tiktoken. Cost is an estimate from the configurable price table
(`WAF_LLM_PRICES`, USD per 1,000 tokens); a model missing from it is logged with no cost.
"""
from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from app.storage.schema import llm_usage

COLUMNS = ("ts", "day", "backend", "model", "purpose", "input_tokens", "output_tokens", "latency_ms", "cost_usd", "ok",
           "error", "retries")
_LEGACY_QUERY = f"SELECT {', '.join(COLUMNS)} FROM llm_usage"


def _from_legacy(row: tuple) -> dict:
    data = dict(zip(COLUMNS, row))
    return {**data, "ts": datetime.fromisoformat(data["ts"])}


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
    def __init__(self, url: str | None, prices: dict[str, dict[str, float]] | None = None, legacy_file: Path | None = None):
        """url: the database to log into; None or "" = logging off (records are still returned, for the answer)."""
        self.prices = prices or {}
        self.engine = None
        if url:
            from app.storage.database import open_database
            from app.storage.legacy import import_legacy_sqlite

            self.engine = open_database(url)
            import_legacy_sqlite(self.engine, legacy_file, "llm_usage", llm_usage, _LEGACY_QUERY, _from_legacy)

    @classmethod
    def from_settings(cls, settings) -> UsageLog:
        return cls(settings.database if settings.usage_log else None, settings.llm_prices, settings.usage_db)

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
        if self.engine is None:
            return row
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as db:
                db.execute(llm_usage.insert().values(ts=now, day=now.date().isoformat(), **{**row, "ok": int(ok)}))
        except (SQLAlchemyError, OSError) as exc:  # the log must never cost the user an answer
            print(f"warning: usage log not written: {exc}", file=sys.stderr)
        return row

    def totals(self, days: int | None = None) -> list[dict]:
        """Calls, failures, tokens, latency and cost per day and backend, newest day first."""
        if self.engine is None:
            return []
        u = llm_usage.c
        query = sa.select(
            u.day, u.backend, sa.func.count(), sa.func.sum(1 - u.ok), sa.func.sum(u.input_tokens),
            sa.func.sum(u.output_tokens), sa.func.avg(u.latency_ms), sa.func.sum(u.cost_usd),
            sa.func.sum(sa.case(((u.ok == 1) & u.cost_usd.is_(None), 1), else_=0)),
        ).group_by(u.day, u.backend).order_by(u.day.desc(), u.backend)
        if days:
            query = query.where(u.day >= datetime.fromtimestamp(time.time() - days * 86400, UTC).date().isoformat())
        with self.engine.connect() as db:
            rows = [
                (day, backend, calls, int(failed), int(tokens_in), int(tokens_out), float(latency),
                 None if cost is None else float(cost), int(unpriced))
                for day, backend, calls, failed, tokens_in, tokens_out, latency, cost, unpriced in db.execute(query)
            ]
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
