"""After generation: repair the [n] markers, then check each sentence against the chunk it cites.

- A marker that points at no source (`[7]` with five sources) is removed and counted.
- Each claim sentence is compared with the sentences of the chunk(s) it cites: supported when its text is
  contained in the chunk, or when the best cosine similarity (the same MiniLM embeddings as retrieval) is at
  least the support threshold (`WAF_LLM_SUPPORT_THRESHOLD`, calibrated by `python -m eval.calibrate_support`).
  A sentence with no marker takes the markers of the next cited sentence of its paragraph (models often
  cite once per bullet); a claim that cites nothing at all is unsupported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from core.text import split_sentences
from index.retriever import ScoredChunk

_GROUP = re.compile(r"\s?\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\]])\s+(?=[A-Z*\"'(])")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+.*|\*\*[^*]+\*\*:?|__[^_]+__:?|[A-Z][\w &/-]{0,40}:)\s*$")
_TRAILING_SOURCES = re.compile(r"\n\s*(?:#{1,6}\s*|\*\*)?(?:sources|references|citations)(?:\*\*)?\s*:?\s*\n[\s\S]*$", re.IGNORECASE)
_MIN_WORDS = 3


@dataclass
class Claim:
    text: str  # without markers
    numbers: list[int]  # valid source numbers it cites (own or inherited)


@dataclass
class Verification:
    text: str  # the answer body with invalid markers removed
    removed_markers: int
    cited: list[int]  # valid source numbers in order of first use
    claims: list[Claim] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # best similarity per claim, 0 for uncited

    @property
    def supported_count(self) -> int:
        return len(self.claims) - len(self.unsupported)


def repair_markers(text: str, source_count: int) -> tuple[str, int, list[int]]:
    """Drop markers outside 1..source_count; normalise `[1, 2]` to `[1][2]`. Returns text, removed, cited."""
    text = _TRAILING_SOURCES.sub("", text.strip())
    removed = 0
    cited: list[int] = []

    def fix(match: re.Match) -> str:
        nonlocal removed
        numbers = [int(n) for n in _NUMBER.findall(match.group(1))]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= source_count]
        removed += len(numbers) - len(valid)
        cited.extend(n for n in valid if n not in cited)
        return (" " if match.group(0).startswith(" ") else "") + "".join(f"[{n}]" for n in valid) if valid else ""

    repaired = _GROUP.sub(fix, text)
    repaired = re.sub(r"[ \t]+([.,;:!?])", r"\1", repaired)
    return repaired, removed, cited


def extract_claims(body: str) -> list[Claim]:
    claims: list[Claim] = []
    for line in body.splitlines():
        if not line.strip() or _HEADING.match(line):
            continue
        line = _BULLET.sub("", line).strip()
        pieces = [(s, [int(n) for g in _GROUP.findall(s) for n in _NUMBER.findall(g)]) for s in _SENTENCE_BREAK.split(line)]
        for i, (sentence, numbers) in enumerate(pieces):
            plain = _GROUP.sub("", sentence).replace("**", "").strip()
            if len(plain.split()) < _MIN_WORDS:
                continue
            if not numbers:  # one marker at the end of a paragraph covers the sentences before it
                numbers = next((n for _, n in pieces[i + 1:] if n), [])
            claims.append(Claim(plain, list(dict.fromkeys(numbers))))
    return claims


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


class CitationVerifier:
    def __init__(self, embedder, threshold: float, sentence_vectors=None):
        self.embedder = embedder
        self.threshold = threshold
        self.sentence_vectors = sentence_vectors  # index.faiss.store.SentenceVectors, when the index has them

    def verify(self, text: str, hits: list[ScoredChunk]) -> Verification:
        body, removed, cited = repair_markers(text, len(hits))
        result = Verification(body, removed, cited, extract_claims(body))
        if not result.claims:
            return result
        vectors = self.embedder.encode([c.text for c in result.claims])
        for claim, vector in zip(result.claims, vectors):
            score = self.support(claim, vector, hits)
            result.scores.append(score)
            if score < self.threshold:
                result.unsupported.append(claim.text)
        return result

    def support(self, claim: Claim, vector: np.ndarray, hits: list[ScoredChunk]) -> float:
        """Best similarity between the claim and any sentence of a chunk it cites (1.0 for a verbatim quote)."""
        cited = [hits[n - 1] for n in claim.numbers if 1 <= n <= len(hits)]
        if not cited:
            return 0.0
        if any(_plain(claim.text) in _plain(hit.chunk.text) for hit in cited):
            return 1.0
        return max(float(np.max(self.chunk_vectors(hit) @ vector)) for hit in cited)

    def chunk_vectors(self, hit: ScoredChunk) -> np.ndarray:
        sentences = split_sentences(hit.chunk.text)
        if self.sentence_vectors is not None and sentences:
            stored = self.sentence_vectors.for_chunk(hit.position)
            if len(stored) == len(sentences):
                return stored
        return self.embedder.encode(sentences or [hit.chunk.text])


def is_decline(text: str) -> bool:
    return "does not cover this" in _plain(text) or "do not cover this" in _plain(text)
