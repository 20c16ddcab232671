"""Where a quoted sentence sits in the document as written: its 1-based line, for SARIF locations and reports.

Quotes come from parsed sections (Markdown markup removed, wrapped lines joined, table cells joined), so they are
found on words, not characters: the first words of the quote, in order, anywhere in the source, across line breaks.
"""
from __future__ import annotations

import bisect

from app.review.assess import Finding
from core.text import words

_WORDS_TO_MATCH = 8


class SourceLines:
    """The source's words, each with the line it is on."""

    def __init__(self, source: str):
        self.words: list[str] = []
        self.lines: list[int] = []
        for number, line in enumerate(source.splitlines(), 1):
            found = words(line)
            self.words += found
            self.lines += [number] * len(found)
        self.joined = " " + " ".join(self.words) + " "
        self.starts = []  # character offset in `joined` of each word
        offset = 1
        for word in self.words:
            self.starts.append(offset)
            offset += len(word) + 1

    def line_of(self, quote: str) -> int | None:
        first = words(quote)[:_WORDS_TO_MATCH]
        if not first:
            return None
        at = self.joined.find(" " + " ".join(first) + " ")
        if at < 0:
            return None
        return self.lines[bisect.bisect_left(self.starts, at + 1)]


def with_lines(findings: list[Finding], source: str) -> list[Finding]:
    """The findings with each evidence quote's line filled in (unchanged when there is no source text)."""
    if not source:
        return findings
    lines = SourceLines(source)
    out = []
    for f in findings:
        evidence = [e.model_copy(update={"line": lines.line_of(e.quote)}) for e in f.evidence]
        out.append(f.model_copy(update={"evidence": evidence}))
    return out
