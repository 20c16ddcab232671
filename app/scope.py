"""Requests the assistant does not do, whatever guidance is nearby: writing code or templates, live prices,
quotas, release dates or service status, other clouds' products, model leaderboards, personal investment.

A question can sit close to the guidance ("write a Polly policy that honours RetryAfter for Cosmos DB" is next to
the retry guidance) and still ask for something guidance cannot give. Each kind has a transparent pattern and
one sentence that says what the assistant does not do and where to look instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ASK_TO_WRITE = (
    r"\b(?:write|generate|give me|create|produce|show me|draft|convert|translate|build me|code up|author|"
    r"provide|paste|can you (?:write|generate|create|give|provide))\b"
)
_ARTIFACT = (
    r"\b(?:code|snippet|script|bicep|terraform|arm template|pulumi|helm chart|yaml|json template|kql|sql query|"
    r"python|c#|csharp|typescript|javascript|powershell|bash|cli commands?|polly policy|function|class|module|"
    r"sdk sample|notebook)\b"
)

KINDS: dict[str, tuple[re.Pattern, str]] = {
    "code": (
        re.compile(
            rf"{_ASK_TO_WRITE}[^.?!]{{0,80}}{_ARTIFACT}|\b(?:bicep|terraform|pulumi|arm) (?:template|module|code|file)s?\b"
            r"|\b(?:sample|example|working) (?:code|template|script|query|yaml)\b",
            re.IGNORECASE,
        ),
        "I don't write code, templates or queries; I answer from Well-Architected guidance. For samples, see the "
        "Azure SDK documentation, Azure Quickstart Templates and Azure Verified Modules.",
    ),
    "live-facts": (
        re.compile(
            r"\b(?:current|today'?s?|right now|this (?:week|month|quarter)|latest|live|exact|hourly)\b[^.?!]{0,60}"
            r"\b(?:price|pricing|cost per|charge|quota|tpm limit|rate limit|status|outage)\b"
            r"|\b(?:down|outage|degraded)\b[^.?!]{0,40}\bright now\b|\bhaving an outage\b"
            r"|\bprice per (?:1k|1,000|thousand|million) tokens\b|\b(?:guaranteed sla|sla (?:percentage|figure))\b"
            r"|\bdefault (?:tpm|rpm|quota|rate limit)s?\b|\bhow many (?:ptus?|tokens per minute|tpm)\b[^.?!]{0,40}\b(?:get|have|allowed)\b"
            r"|\b(?:increase|raise) (?:my|our) quota\b|\bservice health\b[^.?!]{0,30}\b(?:now|today)\b"
            r"|\bwhen will\b[^.?!]{0,60}\b(?:be )?(?:available|released|generally available|ga)\b"
            r"|\bhow much does\b[^.?!]{0,60}\b(?:charge|cost)\b[^.?!]{0,40}\b(?:per|an hour|hourly|for ml\.)",
            re.IGNORECASE,
        ),
        "I don't have live prices, quotas, SLA figures, release dates or service status. See the Azure pricing "
        "calculator, the quota pages of the Azure portal, the Service Level Agreements page, Azure updates and "
        "Azure Service Health.",
    ),
    "other-cloud": (
        re.compile(r"\b(?:aws|amazon|bedrock|sagemaker|gcp|google cloud|vertex ai|model garden)\b", re.IGNORECASE),
        "I answer for Azure with the Well-Architected Framework; for other clouds see their own architecture "
        "frameworks and product documentation.",
    ),
    "leaderboard": (
        re.compile(r"\b(?:mmlu|lmarena|leaderboards?|benchmark scores?|tops? the|on top of the)\b", re.IGNORECASE),
        "I don't rank models on benchmarks; the guidance says to evaluate candidate models on your own data and "
        "workload. For published scores, see the model catalog's benchmarks.",
    ),
    "not-architecture": (
        re.compile(r"\b(?:poem|recipe|weather forecast|joke|song lyrics|world cup|football|horoscope)\b", re.IGNORECASE),
        "I only answer questions about designing AI workloads on Azure with the Well-Architected Framework.",
    ),
    "investment": (
        re.compile(r"\b(?:stocks?|shares|invest(?:ing|ment)?|buy (?:nvda|msft|shares))\b", re.IGNORECASE),
        "I don't give investment or personal advice; I answer questions about designing AI workloads on Azure.",
    ),
}


@dataclass(frozen=True)
class OutOfScope:
    kind: str
    message: str


def out_of_scope(question: str) -> OutOfScope | None:
    """The kind of request the assistant does not do, or None."""
    for kind, (pattern, message) in KINDS.items():
        if pattern.search(question):
            return OutOfScope(kind, message)
    return None
