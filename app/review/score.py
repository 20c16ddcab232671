"""Scores, top risks and the remediation plan, from findings alone.

score = 100 * sum(weight * credit) / sum(weight) over applicable items,
weight: high 3, medium 2, low 1; credit: addressed 1, partial 0.5, missing 0.
Per pillar over that pillar's items; overall over all applicable items.
"""
from __future__ import annotations

from app.review.assess import Finding

WEIGHT = {"high": 3, "medium": 2, "low": 1}
CREDIT = {"addressed": 1.0, "partial": 0.5, "missing": 0.0}
FORMULA = __doc__.split("\n\n", 1)[1].strip()


def score(findings: list[Finding]) -> int | None:
    applicable = [f for f in findings if f.status in CREDIT]
    total = sum(WEIGHT[f.severity] for f in applicable)
    if not total:
        return None
    return round(100 * sum(WEIGHT[f.severity] * CREDIT[f.status] for f in applicable) / total)


def pillar_scores(findings: list[Finding]) -> dict[str, int | None]:
    pillars = list(dict.fromkeys(f.pillar for f in findings))
    return {p: score([f for f in findings if f.pillar == p]) for p in pillars}


def top_risks(findings: list[Finding], limit: int = 10) -> list[Finding]:
    gaps = [f for f in findings if f.status in ("missing", "partial")]
    return sorted(gaps, key=lambda f: (-WEIGHT[f.severity], f.status != "missing", f.similarity))[:limit]
