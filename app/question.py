"""Understanding the question before retrieval: abbreviations spelled out, several asks split into parts, and
mentions of the framework's own name left out when they only frame the ask.

Architects type "AOAI PTU vs PAYG?" and "we run GPT-4o in one region. how do we survive an outage, and what
does a second region cost?". Abbreviations from the glossary (corpus/glossary/abbreviations.yaml, our words)
are spelled out beside themselves, so both dense and BM25 retrieval see the words the guidance uses. A
message with several questions is split into parts, so each part retrieves and is answered on its own. In a
message that sets a scene before it asks ("Security reviewer here. The assistant can call three tools: ... what
controls does the guidance expect?"), the asking sentences are kept apart too: the scene dilutes the whole
message's similarity to the guidance, the asking sentence alone does not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

_CASE_SENSITIVE_UP_TO = 2  # "DR", "HA", "PE", "MI": only in capitals; longer ones ("aoai", "ptu") in any case
_ASK = r"(?:how|what|which|when|where|why|should|do|does|can|is|are)\b"
# Breaks between asks: after a question mark; before "also"/"plus"; a dash or ", and" that opens a new question
# ("load test the endpoint - what metrics matter and how do we simulate 429s?").
_PART_BREAK = re.compile(
    r"(?<=[?])\s+|(?:^|\s)(?:also|and also|plus)[,:]?\s+(?=\w)"
    rf"|\s+[-\u2013\u2014]+\s+(?={_ASK})|,?\s+and\s+(?=(?:how|what|which|when|where|why|should)\b)",
    re.IGNORECASE,
)
_MIN_PART_WORDS = 4
# "Is this aligned with WAF for AI workloads?", "what does the Well-Architected Framework say about ...": the
# framework's name frames the ask without being its subject; left in (and spelled out), it retrieves the
# framework's own definition instead of the guidance asked for. Kept when the question is about the framework.
_FRAMING = re.compile(
    r"\b(?:(?:the|azure|microsoft)\s+)*(?:well[- ]architected(?:\s+framework)?|waf)(?:'s)?"
    r"(?:\s+(?:for|on)\s+ai\s+workloads?)?\b",
    re.IGNORECASE,
)
_MIN_CONTENT_WORDS = 5


@dataclass(frozen=True)
class Question:
    text: str  # as asked
    expanded: str  # abbreviations spelled out, the framework's name left out: what retrieval searches for
    parts: tuple[str, ...]  # the expanded question split into its asks (one part when it asks one thing)
    request: str  # abbreviations spelled out, nothing left out: what the scope decision reads
    asks: tuple[str, ...] = ()  # the sentences that ask, when the message also has others (scene, context)


@lru_cache(maxsize=4)
def load_glossary(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in (data.get("terms") or {}).items()}


def _pattern(glossary: dict[str, str]) -> re.Pattern | None:
    if not glossary:
        return None
    alternatives = []
    for term in sorted(glossary, key=len, reverse=True):
        escaped = re.escape(term)
        alternatives.append(escaped if len(term) <= _CASE_SENSITIVE_UP_TO else f"(?i:{escaped})")
    return re.compile(r"(?<![\w/-])(" + "|".join(alternatives) + r")(?![\w/-])")


def expand(text: str, glossary: dict[str, str]) -> str:
    """'AOAI PTU vs PAYG?' -> 'AOAI (Azure OpenAI) PTU (provisioned throughput units) vs (versus) PAYG (pay-as-you-go)?'"""
    pattern = _pattern(glossary)
    if pattern is None:
        return text
    lookup = {k.lower(): v for k, v in glossary.items() if len(k) > _CASE_SENSITIVE_UP_TO}
    lookup |= {k: v for k, v in glossary.items() if len(k) <= _CASE_SENSITIVE_UP_TO}

    def spelled(match: re.Match) -> str:
        term = match.group(1)
        meaning = lookup.get(term) or lookup.get(term.lower())
        if not meaning or meaning.lower() in text.lower():
            return term
        return f"{term} ({meaning})"

    return pattern.sub(spelled, text)


def split_parts(text: str) -> tuple[str, ...]:
    """The asks of a message: its questions, or clauses joined by 'also'. A short fragment joins the part before."""
    parts: list[str] = []
    for piece in _PART_BREAK.split(text):
        piece = (piece or "").strip()
        if not piece:
            continue
        if parts and len(piece.split()) < _MIN_PART_WORDS:
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    if len(parts) > 1 and len(parts[0].split()) < _MIN_PART_WORDS:
        parts[1] = f"{parts[0]} {parts[1]}"
        parts.pop(0)
    return tuple(parts) or (text,)


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_MIN_ASK_WORDS = 6


def asking_sentences(text: str) -> tuple[str, ...]:
    """The question sentences of a message that also holds sentences that do not ask; () when it is all asking."""
    sentences = [s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip()]
    asks = tuple(s for s in sentences if s.endswith("?") and len(s.split()) >= _MIN_ASK_WORDS)
    return asks if len(asks) < len(sentences) else ()


def without_framing(text: str) -> str:
    """The question without mentions of the framework's name, unless little else is left ("What is the WAF?")."""
    stripped = re.sub(r"[ \t]{2,}", " ", _FRAMING.sub(" ", text)).strip()
    return stripped if len(re.findall(r"[A-Za-z]{3,}", stripped)) >= _MIN_CONTENT_WORDS else text


def understand(text: str, glossary: dict[str, str]) -> Question:
    request = expand(text, glossary)
    unframed = without_framing(text)
    expanded = request if unframed == text else expand(unframed, glossary)
    return Question(text, expanded, split_parts(expanded), request, asking_sentences(expanded))
