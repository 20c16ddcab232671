"""Heading anchors and citation URLs, made the way learn.microsoft.com makes them."""
from __future__ import annotations

import re

LEARN_BASE = "https://learn.microsoft.com/azure/well-architected/"

_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_DROPPED = re.compile(r"[^\w\s-]", re.UNICODE)


def heading_text(raw: str) -> str:
    """The visible text of a Markdown heading: links reduced to their label, emphasis and code marks gone."""
    text = _MARKDOWN_LINK.sub(r"\1", raw)
    text = re.sub(r"[*`]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def anchor_slug(heading: str) -> str:
    """Lowercase, punctuation dropped, each space a hyphen: 'Use case: Personas' -> 'use-case-personas'."""
    text = heading_text(heading).lower()
    text = _DROPPED.sub("", text).replace("_", "")
    return re.sub(r"\s", "-", text.strip())


def learn_url(relative_path: str, anchor: str = "") -> str:
    """Citation URL for a page of the WAF docs tree, e.g. 'ai/test.md' + 'test-the-inference-endpoint'."""
    page = relative_path.replace("\\", "/").removesuffix(".md")
    if page.endswith("/index"):
        page = page[: -len("index")]
    url = LEARN_BASE + page
    return f"{url}#{anchor}" if anchor else url
