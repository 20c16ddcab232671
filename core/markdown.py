"""Markdown structure shared by the ingest loader and the design-review parser: sections by heading, and Word
documents as Markdown (Title and Heading n styles become headings)."""
from __future__ import annotations

import re

from core.slug import heading_text

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def split_headings(body: str, title: str) -> list[tuple[tuple[str, ...], str]]:
    """Split Markdown on headings (not inside code fences); each part keeps its heading path from the title down."""
    sections: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(((title, *[h for level, h in stack if level > 1]), text))
        lines.clear()

    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        flush()
        level, text = len(match.group(1)), heading_text(match.group(2))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
    flush()
    return sections


def heading_titles(body: str) -> list[str]:
    """Every heading's visible text, in order (not inside code fences)."""
    titles, in_fence = [], False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            titles.append(heading_text(match.group(2)))
    return titles


def first_h1(body: str) -> str:
    for line in body.split("\n"):
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return heading_text(match.group(2))
    return ""


def docx_markdown(document, fallback_title: str) -> tuple[str, str]:
    """(title, Markdown) of a python-docx Document: Title and Heading n styles become headings,
    list styles become bullets, tables become pipe-separated rows."""
    title, lines = fallback_title, []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = style.removeprefix("Heading ").strip()
        text = paragraph.text.strip()
        if style == "Title" and text:
            title = text
            lines.append(f"# {title}")
        elif style.startswith("Heading") and level.isdigit():
            lines.append(f"{'#' * (int(level) + 1)} {text}")
        elif text:
            lines.append(("- " if "List" in style else "") + text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return title, "\n\n".join(lines)
