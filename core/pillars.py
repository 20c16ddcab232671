"""Tag each chunk with the WAF pillar(s) it concerns: front matter, else folder, else heading, else a keyword classifier."""
from __future__ import annotations

import re

PILLARS = ("reliability", "security", "cost-optimization", "operational-excellence", "performance-efficiency")
PILLAR_NAMES = {
    "reliability": "Reliability",
    "security": "Security",
    "cost-optimization": "Cost Optimization",
    "operational-excellence": "Operational Excellence",
    "performance-efficiency": "Performance Efficiency",
}
# The design review also scores two cross-cutting areas beside the five pillars.
REVIEW_AREA_NAMES = {**PILLAR_NAMES, "responsible-ai": "Responsible AI", "data-governance": "Data Governance"}
_ALIASES = {
    "reliability": "reliability",
    "security": "security",
    "cost": "cost-optimization",
    "cost optimization": "cost-optimization",
    "cost-optimization": "cost-optimization",
    "operational excellence": "operational-excellence",
    "operational-excellence": "operational-excellence",
    "operations": "operational-excellence",
    "performance": "performance-efficiency",
    "performance efficiency": "performance-efficiency",
    "performance-efficiency": "performance-efficiency",
}
# Words whose presence marks a pillar's concern; a transparent rule, not a learned model.
_KEYWORDS = {
    "reliability": r"reliab|resilien|availability|redundan|failover|fault|disaster recovery|recovery|outage|retry|"
    r"retries|backup|self-heal|health model|uptime|zone|multi-region|degrad",
    "security": r"secur|identity|access control|rbac|encrypt|threat|attack|vulnerab|secret|private endpoint|"
    r"network isolation|permission|least privilege|authenticat|authoriz|compliance|privacy|pii|"
    r"content safety|jailbreak|prompt injection|tamper|poison",
    "cost-optimization": r"\bcost|budget|spend|pricing|billing|price|financ|reserved|spot|savings|"
    r"provisioned throughput|ptu|pay-as-you-go|charge|tokens? usage",
    "operational-excellence": r"operat|monitor|observab|deploy|automation|automat|devops|mlops|genaiops|"
    r"pipeline|ci/cd|incident|runbook|document|versioning|lifecycle|governance|safe deployment|drift",
    "performance-efficiency": r"performance|latency|throughput|scal|capacity|gpu|cache|caching|"
    r"response time|load test|efficien|optimi[sz]",
}
_PATTERNS = {pillar: re.compile(pattern, re.IGNORECASE) for pillar, pattern in _KEYWORDS.items()}


def normalize_pillar(value: str) -> str | None:
    return _ALIASES.get(value.strip().lower().replace("_", "-"))


def pillars_from_folder(relative_path: str) -> list[str]:
    parts = [p.lower() for p in relative_path.replace("\\", "/").split("/")[:-1]]
    return [p for p in PILLARS if p in parts]


def pillars_from_headings(heading_path: list[str] | tuple[str, ...]) -> list[str]:
    for heading in reversed(heading_path):
        pillar = normalize_pillar(heading)
        if pillar:
            return [pillar]
    return []


def _keyword_counts(text: str) -> dict[str, int]:
    return {pillar: len(pattern.findall(text)) for pillar, pattern in _PATTERNS.items()}


def classify_pillars(text: str, max_pillars: int = 2) -> list[str]:
    """Pillars whose keywords are densest in the text; the strongest always, a second when nearly as strong."""
    counts = _keyword_counts(text)
    ranked = sorted((c, p) for p, c in counts.items() if c > 0)[::-1]
    if not ranked:
        return ["operational-excellence"]
    best = ranked[0][0]
    return [p for c, p in ranked[:max_pillars] if c >= max(2, best * 0.6) or c == best]


def sentence_pillar(sentence: str, chunk_pillars: list[str]) -> str:
    """The pillar one quoted sentence concerns: the chunk's pillar its keywords favour, or another pillar when the
    sentence plainly concerns it (two keyword hits or more) and none of the chunk's."""
    fallback = chunk_pillars[0] if chunk_pillars else "operational-excellence"
    counts = _keyword_counts(sentence)
    best = max(counts.values())
    if best == 0:
        return fallback
    own = [p for p in chunk_pillars if counts.get(p, 0) == best]
    if own:
        return own[0]
    if best >= 2 and not any(counts.get(p, 0) for p in chunk_pillars):
        return max(PILLARS, key=lambda p: counts[p])
    return max(chunk_pillars, key=lambda p: counts.get(p, 0)) if chunk_pillars else fallback


def tag_pillars(
    front_matter: list[str], relative_path: str, heading_path: list[str] | tuple[str, ...], text: str
) -> list[str]:
    named = [p for p in (normalize_pillar(v) for v in front_matter) if p]
    if named:
        return list(dict.fromkeys(named))
    return (
        pillars_from_folder(relative_path)
        or pillars_from_headings(heading_path)
        or classify_pillars(" ".join(heading_path) + "\n" + text)
    )
