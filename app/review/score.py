"""Scores, top risks and the remediation plan, from findings alone.

score = 100 * sum(weight * credit) / sum(weight) over applicable items,
weight: high 3, medium 2, low 1; credit: addressed 1, partial 0.5, missing 0.
Per pillar over that pillar's items; overall over all applicable items.
"""
from __future__ import annotations

from collections.abc import Iterable

from app.review.assess import Finding

WEIGHT = {"high": 3, "medium": 2, "low": 1}
CREDIT = {"addressed": 1.0, "partial": 0.5, "missing": 0.0}
FORMULA = __doc__.split("\n\n", 1)[1].strip()


def score(findings: list[Finding]) -> int | None:
    return weighted_score((f.severity, f.status) for f in findings)


def weighted_score(severity_and_status: Iterable[tuple[str, str]]) -> int | None:
    """The formula above over (severity, status) pairs; None when no item applies."""
    applicable = [(severity, status) for severity, status in severity_and_status if status in CREDIT]
    total = sum(WEIGHT[severity] for severity, _ in applicable)
    if not total:
        return None
    return round(100 * sum(WEIGHT[severity] * CREDIT[status] for severity, status in applicable) / total)


def pillar_scores(findings: list[Finding]) -> dict[str, int | None]:
    pillars = list(dict.fromkeys(f.pillar for f in findings))
    return {p: score([f for f in findings if f.pillar == p]) for p in pillars}


def top_risks(findings: list[Finding], limit: int = 10) -> list[Finding]:
    gaps = [f for f in findings if f.status in ("missing", "partial")]
    return sorted(gaps, key=lambda f: (-WEIGHT[f.severity], f.status != "missing", f.similarity))[:limit]
