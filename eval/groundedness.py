"""A ragas metric of ours: the share of answer sentences supported by the source they cite.

retrieved_contexts must hold the cited passages in citation order (context i is marker [i+1]).
A sentence is supported when it appears in its cited passage, or when its embedding is at least
`threshold` similar to the passage's closest sentence. A sentence with no valid marker is unsupported.
"""
from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

import numpy as np
from langchain_core.callbacks import Callbacks
from ragas.dataset_schema import SingleTurnSample
from ragas.metrics.base import MetricType, SingleTurnMetric
from ragas.run_config import RunConfig

from core.text import split_sentences

_MARKER = re.compile(r"\s*\[(\d+)\]")


def cited_sentences(response: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, cited numbers) for each sentence of an answer body."""
    results = []
    for line in response.splitlines():
        bullet = line.strip().startswith("- ")
        line = line.strip().removeprefix("- ").strip()
        if not line or (line.startswith("**") and line.endswith("**")):
            continue
        pieces = [
            (_MARKER.sub("", sentence).strip(), [int(n) for n in _MARKER.findall(sentence)])
            for sentence in re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", line)
        ]
        # A bullet whose only marker closes it cites that source for the whole bullet (a quote of two sentences).
        if bullet and pieces[-1][1] and not any(numbers for _, numbers in pieces[:-1]):
            pieces = [(text, pieces[-1][1]) for text, _ in pieces]
        results += [(text, numbers) for text, numbers in pieces if len(text.split()) >= 3]
    return results


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@dataclass
class CitedGroundedness(SingleTurnMetric):
    name: str = "cited_groundedness"
    embedder: t.Any = None  # core.embeddings.SentenceEmbedder
    threshold: float = 0.8
    _required_columns: dict[MetricType, set[str]] = field(
        default_factory=lambda: {MetricType.SINGLE_TURN: {"response", "retrieved_contexts"}}
    )

    def init(self, run_config: RunConfig) -> None:
        pass

    def score_response(self, response: str, contexts: list[str]) -> float:
        sentences = cited_sentences(response)
        if not sentences:
            return float("nan")
        return sum(self._supported(text, numbers, contexts) for text, numbers in sentences) / len(sentences)

    def _supported(self, text: str, numbers: list[int], contexts: list[str]) -> bool:
        valid = [contexts[n - 1] for n in numbers if 1 <= n <= len(contexts)]
        if not valid:
            return False
        if any(_plain(text) in _plain(context) for context in valid):
            return True
        if self.embedder is None:
            return False
        candidates = [s for context in valid for s in split_sentences(context)] or valid
        vectors = self.embedder.encode([text, *candidates])
        return float(np.max(vectors[1:] @ vectors[0])) >= self.threshold

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks: Callbacks) -> float:
        return self.score_response(sample.response or "", list(sample.retrieved_contexts or []))

    async def _ascore(self, row: dict, callbacks: Callbacks) -> float:
        return await self._single_turn_ascore(SingleTurnSample(**row), callbacks)
