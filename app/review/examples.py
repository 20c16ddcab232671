"""Labelled examples: sentences of real design documents that a reviewer judged addressed, partial or missing for a
checklist item (corpus/checklist/review-examples.jsonl, the format of eval/blind/designs/labels.jsonl and of the
overrides an architect exports). A design sentence close to an example of an item tells the offline model what a
reviewer said of a sentence like it: the bank grows with every labelled document, including a team's own.

Vectors are cached beside the file (`.npy`, with the model name and the file's hash) so a review does not embed
the bank again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.embeddings import SentenceEmbedder

EXAMPLE_STATUSES = ("addressed", "partial", "missing")


class ExampleBankError(ValueError):
    pass


@dataclass
class ExampleBank:
    items: list[str]
    statuses: list[str]
    quotes: list[str]
    designs: list[str]
    vectors: np.ndarray  # (examples, dimension), normalised

    @classmethod
    def empty(cls, dimension: int = 1) -> ExampleBank:
        return cls([], [], [], [], np.zeros((0, dimension), dtype=np.float32))

    @classmethod
    def from_rows(cls, rows: list[dict], embedder: SentenceEmbedder, vectors: np.ndarray | None = None) -> ExampleBank:
        kept = [r for r in rows if r.get("expected") in EXAMPLE_STATUSES and str(r.get("quote", "")).strip()]
        quotes = [r["quote"].strip() for r in kept]
        if vectors is None or len(vectors) != len(quotes):
            vectors = embedder.encode(quotes)
        return cls([r["item_id"] for r in kept], [r["expected"] for r in kept], quotes,
                   [r.get("design", "") for r in kept], vectors)

    @classmethod
    def load(cls, path: Path, embedder: SentenceEmbedder) -> ExampleBank:
        """The bank in the file (empty when there is no file), its vectors from the cache when they are current."""
        if not path.is_file():
            return cls.empty(embedder.dimension)
        try:
            raw = path.read_bytes()
            rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExampleBankError(f"review examples {path} unreadable: {exc}") from exc
        if any(not isinstance(r, dict) or "item_id" not in r for r in rows):
            raise ExampleBankError(f"review examples {path}: every line needs an item_id, expected and quote")
        cache = path.with_suffix(f".{hashlib.sha256(raw + embedder.model_name.encode()).hexdigest()[:16]}.npy")
        cached = np.load(cache, allow_pickle=False) if cache.is_file() else None
        bank = cls.from_rows(rows, embedder, cached)
        if cached is None or bank.vectors is not cached:
            try:
                for stale in path.parent.glob(f"{path.stem}.*.npy"):
                    stale.unlink()
                np.save(cache, bank.vectors, allow_pickle=False)
            except OSError:
                pass  # a read-only install embeds the bank at each start instead
        return bank

    def match(
        self, sentence_vectors: np.ndarray, item_ids: list[str], exclude: frozenset[str] = frozenset()
    ) -> ExampleMatch:
        """For every item and status, the best similarity of any design sentence to an example of the item with
        that status (0 when there is none), and the item's closest example. `exclude` leaves out the examples of
        some designs (when fitting, a design's own)."""
        features = np.zeros((len(item_ids), len(EXAMPLE_STATUSES)), dtype=np.float64)
        closest: list[tuple[str, str, float] | None] = [None] * len(item_ids)
        if not len(self.quotes) or not len(sentence_vectors):
            return ExampleMatch(features, closest)
        best = (sentence_vectors @ self.vectors.T).max(axis=0)  # per example: its closest design sentence
        row = {item: i for i, item in enumerate(item_ids)}
        for k, (item, status, design) in enumerate(zip(self.items, self.statuses, self.designs)):
            if item not in row or design in exclude:
                continue
            i, j = row[item], EXAMPLE_STATUSES.index(status)
            features[i, j] = max(features[i, j], float(best[k]))
            if closest[i] is None or best[k] > closest[i][2]:
                closest[i] = (status, self.quotes[k], float(best[k]))
        return ExampleMatch(features, closest)


@dataclass
class ExampleMatch:
    features: np.ndarray  # (items, EXAMPLE_STATUSES)
    closest: list[tuple[str, str, float] | None]  # per item: (status, example quote, similarity)
