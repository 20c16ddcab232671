"""Three follow-up questions per answer, each made from a retrieved section's own heading, so every
suggestion is one the guidance can answer. Sections the answer did not cite come first."""
from __future__ import annotations

import re

from index.retriever import ScoredChunk

_CODE = re.compile(r"^[A-Z]{2,3}:\d{2}\s+")  # checklist codes such as "SE:07 "
_VERBS = frozenset(
    "add adopt apply authenticate automate avoid build cache choose collect configure consider control create "
    "define deploy design detect disable enable encrypt ensure establish estimate evaluate filter govern handle "
    "harden implement isolate keep limit log manage measure minimize monitor optimize plan prefer prepare protect "
    "recover reduce review roll run scale secure select separate set store test track train use validate version "
    "watch achieve sustain negotiate evolve understand prioritize develop document align balance conduct maintain "
    "mitigate observe organize perform provide remove respond simplify standardize support tune write check "
    "enforce assess benchmark right-size optimise instrument segment classify govern rotate restrict"
    .split()
)
_PROPER = frozenset({"Azure", "Microsoft", "OpenAI", "Entra", "Kubernetes", "Foundry", "Copilot", "Fabric", "Well-Architected"})


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    second = text.split(" ", 2)[1] if " " in text else ""
    if first.isupper() or any(c.isupper() for c in first[1:]) or first in _PROPER or second[:1].isupper():
        return text
    return text[:1].lower() + text[1:]


_NAVIGATION = re.compile(r"^(?:where to read more|related (?:links|resources|content)|next steps?|learn more|see also)$", re.I)
_QUALIFIER = re.compile(r"^(?:for|in|with|when|on|during)\b", re.IGNORECASE)
_TRADE_OFF = re.compile(r"^trade-?offs?\b\s*:?\s*(.*)$", re.IGNORECASE)


def _topic(heading: str) -> str:
    """A heading as a phrase: no checklist code, no end punctuation, and of "A: B" the part that names the
    topic ("Security principle: Design to protect integrity" -> the part after the colon, else before it)."""
    heading = _CODE.sub("", heading.strip()).rstrip(".:?").strip()
    if ": " in heading:
        head, tail = heading.split(": ", 1)
        heading = tail if head.lower().endswith(("principle", "principles")) or len(head.split()) <= 1 else head
    return heading


# "Design checklist", "Test strategy": a verb-like first word that names a thing, not a task.
_NOUN_HEADS = frozenset(
    "checklist checklists principles principle considerations patterns areas recommendations guidance strategy "
    "approach decisions options review".split()
)


def _is_task(topic: str) -> bool:
    words = topic.lower().split()
    return bool(words) and words[0] in _VERBS and not (len(words) == 2 and words[1] in _NOUN_HEADS)


def question_for(heading: str, parent: str = "") -> str:
    """A question the section answers, from its heading, and its parent's when the heading alone is vague
    ("Key practices", "For AI workloads", "Trade-offs")."""
    topic = _topic(heading)
    parent_topic = _topic(parent) if parent else ""
    trade_off = _TRADE_OFF.match(topic)
    if trade_off:
        subject = trade_off.group(1) or parent_topic
        if not subject:
            return "What are the trade-offs?"
        return f"What are the trade-offs {'when I' if _is_task(subject) else 'of'} {_lower_first(subject)}?"
    if _QUALIFIER.match(topic):  # "For AI workloads" under "Optimize environment costs"
        if not parent_topic:
            return ""  # a qualifier alone ("For AI workloads") names no topic to ask about
        return question_for(parent_topic)[:-1] + " " + topic[:1].lower() + topic[1:] + "?"
    if parent_topic and not _is_task(topic) and len(topic.split()) <= 3:  # "Key practices", "Azure tools"
        return question_for(parent_topic)[:-1] + f" ({_lower_first(topic)})?"
    if _is_task(topic):
        return f"How do I {_lower_first(topic)}?"
    article = "the " if topic.lower().split()[-1] in _NOUN_HEADS and len(topic.split()) == 2 else ""
    return f"What does the guidance say about {article}{_lower_first(topic)}?"


def suggest_follow_ups(question: str, hits: list[ScoredChunk], cited_urls: set[str], count: int = 3) -> list[str]:
    uncited = [h for h in hits if h.chunk.url not in cited_urls]
    cited = [h for h in hits if h.chunk.url in cited_urls]
    asked = re.sub(r"\W+", " ", question.lower()).strip()
    suggestions: list[str] = []
    for hit in uncited + cited:
        path = [h for h in hit.chunk.heading_path if h] or [hit.chunk.title]
        if _NAVIGATION.match(path[-1].strip()):
            continue
        parent = path[-2] if len(path) > 1 else (hit.chunk.title if path[-1] != hit.chunk.title else "")
        suggestion = question_for(path[-1], parent)
        if suggestion and suggestion not in suggestions and re.sub(r"\W+", " ", suggestion.lower()).strip() != asked:
            suggestions.append(suggestion)
        if len(suggestions) == count:
            break
    return suggestions
