"""Splitting text without any downloaded tokenizer data (no nltk): sentences to quote, words to match."""
from __future__ import annotations

import re

_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_MARKUP = re.compile(r"\*\*|__|`")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.")
_MIN_WORDS = 6


def split_sentences(text: str, min_words: int = _MIN_WORDS) -> list[str]:
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
            if len(sentence.split()) >= min_words:
                sentences.append(sentence if sentence[-1] in ".!?:" else sentence + ".")
    return sentences


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the and or of to in on for with by from as at is are was were be been being it its this that these those "
    "how what which who whom why when where do does did should can could would i we you my our your their they "
    "into about than then there here not no so if".split()
)


def words(text: str) -> list[str]:
    """The text's lower-case words and numbers, punctuation dropped: what matching, stemming and BM25 compare."""
    return _WORD.findall(text.lower())


def bm25_tokens(text: str) -> list[str]:
    return [w for w in words(text) if w not in _STOPWORDS]
