"""Turn DocFX-flavoured Markdown (as learn.microsoft.com publishes it) into clean Markdown for chunking.

Drops `:::image` blocks and layout directives, keeps callout text (`> [!NOTE]` becomes "Note:"),
inlines `[!INCLUDE]` files when they can be found (else drops the marker), and reduces links to their text.
Tab headings (`### [Title](#tab/x)`) stay headings, for context; `tab_titles` names them so that citations
skip them (the site gives tabs no anchor).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from core.slug import heading_text

_COMPLEX_IMAGE = re.compile(r':::image\s+type="complex".*?:::image-end:::', re.DOTALL)
_IMAGE = re.compile(r":::image\b.*?:::", re.DOTALL)
_LAYOUT = re.compile(r"^\s*:::[a-z-]+(?:-end)?:::\s*$|^\s*:::\s*(?:row|column|zone|moniker)\b.*$", re.MULTILINE)
_INCLUDE = re.compile(r"\[!INCLUDE\s*\[[^\]]*\]\(([^)]+)\)\]", re.IGNORECASE)
_CALLOUT = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$", re.IGNORECASE)
_DROPPED_DIRECTIVE = re.compile(r"^\[!(div|VIDEO)\b.*$", re.IGNORECASE)
_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_HTML_TAG = re.compile(r"</?(?:a|br|b|i|em|strong|sup|sub|span|div|p)\b[^>]*>", re.IGNORECASE)
_TAB_SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)
_CHECKBOX = re.compile("[\u2610\u2611\u2612]")
# `### [Title](#tab/name)` starts a tab of a tabbed block: a heading in the source, not an anchor on the site.
TAB_HEADING = re.compile(r"^#{1,6}\s+\[(.+)\]\(#tab/[^)]*\)\s*$", re.MULTILINE)
_MAX_INCLUDE_DEPTH = 3


def clean_docfx(text: str, base_dir: Path | None = None, _depth: int = 0) -> str:
    text = _inline_includes(text, base_dir, _depth)
    text = _COMPLEX_IMAGE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LAYOUT.sub("", text)
    text = _unquote_callouts(text)
    text = _IMAGE_LINK.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _TAB_SEPARATOR.sub("", text)
    text = _CHECKBOX.sub("", html.unescape(text)).replace("\u00a0", " ")
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# Sections that only point to other pages: no guidance to quote, and in retrieval they crowd out the sections that
# have some ("Design area: MLOps and GenAIOps"). 170 of the official docs' 5,422 chunks.
NAVIGATION_HEADINGS = {"next step", "next steps", "related links", "related resources", "see also"}


def is_navigation(heading_path: tuple[str, ...] | list[str]) -> bool:
    return len(heading_path) > 1 and any(h.strip().lower() in NAVIGATION_HEADINGS for h in heading_path[1:])


def tab_titles(text: str) -> set[str]:
    """The visible titles of a page's tab headings: sections under them cite the nearest real heading."""
    return {heading_text(clean_docfx(title).strip()) for title in TAB_HEADING.findall(text)}


def _inline_includes(text: str, base_dir: Path | None, depth: int) -> str:
    def replace(match: re.Match) -> str:
        if base_dir is None or depth >= _MAX_INCLUDE_DEPTH:
            return ""
        target = (base_dir / match.group(1).strip()).resolve()
        try:
            included = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""
        included = re.sub(r"\A---\s*\n.*?\n---\s*\n", "", included, flags=re.DOTALL)
        return clean_docfx(included, target.parent, depth + 1)

    return _INCLUDE.sub(replace, text)


def _unquote_callouts(text: str) -> str:
    """`> [!NOTE]` + `> body` -> `Note: body`; other block quotes lose their `>` marks but keep their text."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line.lstrip().startswith(">"):
            out.append(line)
            continue
        body = re.sub(r"^\s*>\s?", "", line)
        callout = _CALLOUT.match(body.strip())
        if callout:
            out.append(f"{callout.group(1).capitalize()}:")
        elif _DROPPED_DIRECTIVE.match(body.strip()):
            continue
        elif out and out[-1].endswith(":") and body.strip() and out[-1][:-1].isalpha():
            out[-1] = f"{out[-1]} {body.strip()}"
        else:
            out.append(body)
    return "\n".join(out)
