"""Conversation memory: a follow-up ("and for cost?") becomes a standalone question before retrieval.

With an LLM backend the model rewrites it (app.llm.generate); in extractive mode, or when every LLM
backend is down, this deterministic rule does: a message that leans on the previous turn (starts with
"and", "what about", "how about", "same for"..., or is short and says "it", "that", "those"...) is joined
to the previous standalone question.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_LEAD = re.compile(
    r"^\s*(?:(?:and|but|also|so|or|plus|then)\b[\s,]*(?:(?:what|how)\s+about|for|about|regarding|on|with|in terms of)?"
    r"|(?:what|how)\s+about|what\s+of|same\s+(?:for|with|about)|(?:and\s+)?in\s+terms\s+of|regarding)\b\s*",
    re.IGNORECASE,
)
_REFERENCE = re.compile(r"\b(?:it|its|that|this|those|these|them|they|their|there|the same|above|previous)\b", re.IGNORECASE)
_SHORT_WORDS = 8


def history_turns(history: Iterable | None, max_turns: int = 3) -> list[tuple[str, str]]:
    """(question, answer text) for the last turns; items may be Answer objects, pairs or chat dicts."""
    turns: list[tuple[str, str]] = []
    pending_user: str | None = None
    for item in history or []:
        if hasattr(item, "text") and hasattr(item, "question"):
            turns.append((getattr(item, "standalone_question", "") or item.question, item.text))
        elif isinstance(item, dict) and "role" in item:
            if item["role"] == "user":
                pending_user = str(item.get("content", ""))
            elif item["role"] == "assistant" and pending_user is not None:
                turns.append((pending_user, str(item.get("content", ""))))
                pending_user = None
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            turns.append((str(item[0]), str(item[1])))
        else:
            raise TypeError(f"history items are Answer objects, (question, answer) pairs or role dicts, not {item!r}")
    return turns[-max_turns:] if max_turns > 0 else []


def leans_on_context(question: str) -> bool:
    words = question.split()
    if _LEAD.match(question) and len(words) <= _SHORT_WORDS * 2:
        return True
    return len(words) <= _SHORT_WORDS and (bool(_REFERENCE.search(question)) or len(words) <= 2)


def rule_rewrite(question: str, turns: list[tuple[str, str]]) -> str:
    """The previous standalone question plus this message's focus, or the message unchanged."""
    question = question.strip()
    if not turns or not leans_on_context(question):
        return question
    previous = turns[-1][0].strip().rstrip("?.! ")
    if not _LEAD.match(question):  # "is that expensive?": keep the message, add what it refers to
        return f"{previous}? {question}"
    focus = _LEAD.sub("", question, count=1).strip().rstrip("?.! ")
    return f"{previous}? What about {focus}?" if focus else previous + "?"
