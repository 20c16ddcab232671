"""Split guidance text into quotable sentences without any downloaded tokenizer data (no nltk)."""
from __future__ import annotations

import re

_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_MARKUP = re.compile(r"\*\*|__|`")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.")
_MIN_WORDS = 6


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or _TABLE_RULE.match(line):
            continue
        if line.startswith("|"):
            line = "; ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        line = _MARKUP.sub("", _BULLET.sub("", line))
        for abbreviation in _ABBREVIATIONS:
            line = line.replace(abbreviation, abbreviation.replace(".", "\u2024"))
        for sentence in _BREAK.split(line):
            sentence = sentence.replace("\u2024", ".").strip()
            if len(sentence.split()) >= _MIN_WORDS:
                sentences.append(sentence if sentence[-1] in ".!?:" else sentence + ".")
    return sentences
