"""Which checklist items apply to a design: from the workload it describes and from what it says is out of scope.

Workload kinds: generative (LLMs, RAG, copilots, agents), training (trains or fine-tunes a model), inference
(serves a model of its own: managed online or batch endpoints, Triton, KServe; calling a hosted model such as
Azure OpenAI is not inference serving). Only sentences that are not negated count: "there is no LLM anywhere"
does not make a workload generative. Items about one part of a system (agents, retrieval, GPUs, conversations)
apply only when the design has that part. Explicit exclusions ("there are no agents", "no personal data is
processed", "no end-user interface") make the items of that area not applicable, with the sentence that said
so, unless the rest of the document plainly uses what it excludes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from app.review.checklist import ChecklistItem

KIND_PATTERNS = {
    "generative": r"\b(gpt[\w.-]*|llms?|large language models?|azure openai|openai|prompts?|rag|retrieval[- ]augmented|"
    r"copilots?|chat ?bots?|agents?|agentic|generative|completions?|phi-\d[\w.-]*|llama|mistral)\b",
    "training": r"\b(train|training|trained|fine[- ]tun\w*|retrain\w*|hyperparameters?|experiment tracking|"
    r"training (?:job|run|pipeline|cluster)s?)\b",
    "inference": r"\b(online endpoints?|batch endpoints?|managed endpoints?|inference (?:server|cluster|endpoint)s?|"
    r"model serving|serv(?:e|es|ing) the model|triton|kserve|torchserve|onnx runtime|scoring (?:script|endpoint|job)s?|"
    r"real[- ]time (?:inference|scoring)|batch (?:inference|scoring)|predictions?)\b",
}
# Parts of a system some items are about: (what shows the design has it, the items that need it).
PARTS = {
    "agents": (r"\b(agents?|agentic|tool[- ]call\w*|function[- ]call\w*|autonomous\w*|plugins?)\b", {"RAI-07"}),
    "retrieval": (
        r"\b(rag|retrieval|retrieve[sd]?|search index\w*|ai search|cognitive search|vector\w*|embeddings?|grounding|"
        r"chunk\w*|semantic search|knowledge base|indexe[sd]|indexing|indexer)\b",
        {"REL-05", "SEC-08", "PERF-06", "PERF-07", "COST-09", "DATA-03"},
    ),
    "gpus": (r"\b(gpus?|a100|h100|t4|v100|cuda|nc\d\w*|nd\d\w*|accelerators?)\b", {"COST-06"}),
    # Work that can wait (COST-11) and fan-out that can starve interactive calls (REL-08) need bulk processing.
    "bulk processing": (
        r"\b(batch\w*|bulk|nightly|overnight|offline|backfill\w*|scheduled|asynchronous\w*|async|queued?|"
        r"non-urgent|fan[- ]out|daily|weekly|monthly|cron)\b",
        {"COST-11", "REL-08"},
    ),
    "conversations": (
        r"\b(agents?|chat\w*|conversations?|threads?|sessions?|multi-turn|copilots?|assistants?)\b", {"REL-10"}
    ),
}
# An exclusion is overruled when the document plainly uses what it excludes (two such sentences or more).
PRESENCE = {
    "agents": PARTS["agents"][0],
    "retrieval": PARTS["retrieval"][0],
    "personal-data": r"\b(personal data|pii|patients?|customer data|gdpr|health data|employee data|names?|e-?mail "
    r"address\w*|phone numbers?|date of birth|national id\w*|pseudonymi[sz]\w*|anonymi[sz]\w*|de-?identif\w*|"
    r"redact\w*|direct identifiers?|user ids?|dpia|data subjects?|consent)\b",
    "generative": KIND_PATTERNS["generative"],
    "training": KIND_PATTERNS["training"],
}
# What each exclusion takes out of scope: workload kinds, and items beyond those.
EXCLUDED_KINDS = {"training": "training", "generative": "generative"}
EXCLUDED_ITEMS = {
    "agents": {"RAI-07"},
    "personal-data": {"DATA-02", "DATA-05"},
    "end-user-ui": {"REL-11", "RAI-05", "RAI-06"},
    "retrieval": {"REL-05", "SEC-08", "PERF-06", "PERF-07", "COST-09", "DATA-03"},
}
_NEGATION = re.compile(
    r"\b(no|not|never|none|without|neither|nor|excluded|out of scope|only public|purely|read-only|doesn't|does not|"
    r"don't|do not|isn't|is not|won't|will not|nothing)\b|n't\b",
    re.IGNORECASE,
)


@dataclass
class Applicability:
    kinds: list[str]
    exclusions: dict[str, str] = field(default_factory=dict)  # group -> the design's sentence that excluded it
    absent_parts: dict[str, str] = field(default_factory=dict)  # part the design does not have -> a sentence saying so

    def reason_not_applicable(self, item: ChecklistItem) -> str | None:
        """Why the item does not apply, or None when it does."""
        for group, items in EXCLUDED_ITEMS.items():
            if item.id in items and group in self.exclusions:
                return f'the design excludes it: "{self.exclusions[group]}"'
        for part, (_, items) in PARTS.items():
            if item.id in items and part in self.absent_parts:
                said = self.absent_parts[part]
                return f'the design has no {part}' + (f': "{said}"' if said else "")
        if "all" in item.applies_to or any(kind in self.kinds for kind in item.applies_to):
            return None
        excluded = [
            f'"{self.exclusions[group]}"' for group, kind in EXCLUDED_KINDS.items()
            if kind in item.applies_to and group in self.exclusions
        ]
        if excluded:
            return "the design excludes it: " + "; ".join(excluded)
        detected = ", ".join(self.kinds) or "none"
        return f"applies to {', '.join(item.applies_to)} workloads; detected: {detected}"


# People called agents: a contact centre's "senior agents re-queue the case" says nothing about AI agents.
_HUMAN_AGENTS = re.compile(
    r"\b(?:human|senior|junior|support|service|call[- ]cent(?:re|er)|contact[- ]cent(?:re|er)|live|sales|helpdesk|"
    r"help desk|desk|claims|field|frontline|front-line|experienced)\s+agents?\b|\bagents?\s+re-?queue\w*",
    re.IGNORECASE,
)


def mentions(pattern: str, sentences: list[str]) -> int:
    """Matches of the pattern in the sentences that are not negated (people called agents left out)."""
    return sum(
        len(re.findall(pattern, _HUMAN_AGENTS.sub(" ", s).lower())) for s in sentences if not _NEGATION.search(s)
    )


def detect_kinds(sentences: list[str]) -> list[str]:
    """Kinds named in at least two sentences that are not negated (one, in a document under 40 sentences)."""
    needed = 2 if len(sentences) >= 40 else 1
    return [kind for kind, pattern in KIND_PATTERNS.items() if mentions(pattern, sentences) >= needed]


def negated_mention(pattern: str, sentences: list[str]) -> str:
    """The first negated sentence that names the pattern ("It has no agent loop"), or ""."""
    return next((s for s in sentences if _NEGATION.search(s) and re.search(pattern, s.lower())), "")


def find_exclusions(
    sentences: list[str], sentence_vectors: np.ndarray, statements: dict[str, np.ndarray], threshold: float
) -> dict[str, str]:
    """For each exclusion group, the most similar negated design sentence at or above the threshold."""
    if not len(sentences):
        return {}
    negated = np.array([bool(_NEGATION.search(s)) for s in sentences])
    found = {}
    for group, vectors in statements.items():
        similarity = (sentence_vectors @ vectors.T).max(axis=1)
        similarity = np.where(negated, similarity, -1.0)
        best = int(np.argmax(similarity))
        if similarity[best] >= threshold:
            found[group] = sentences[best]
    return found


def applicability(text: str, sentences: list[str], sentence_vectors: np.ndarray,
                  exclusion_vectors: dict[str, np.ndarray], threshold: float) -> Applicability:
    exclusions = {
        group: sentence
        for group, sentence in find_exclusions(sentences, sentence_vectors, exclusion_vectors, threshold).items()
        if group not in PRESENCE or mentions(PRESENCE[group], sentences) < 2
    }
    kinds = [k for k in detect_kinds(sentences or [text]) if not any(EXCLUDED_KINDS.get(g) == k for g in exclusions)]
    absent = {
        part: negated_mention(pattern, sentences)
        for part, (pattern, _) in PARTS.items()
        if not mentions(pattern, sentences or [text])
    }
    return Applicability(kinds, exclusions, absent)
