"""BM25 over the chunks with bm25s: a sparse term-document matrix, so a query costs the postings of its terms
rather than a Python loop over every chunk (rank-bm25's `get_scores`). Measured by `make bench-scale`."""
from __future__ import annotations

import logging

import numpy as np

from core.text import bm25_tokens


class LexicalIndex:
    def __init__(self, texts: list[str]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import
        self.size = len(texts)
        self._bm25 = bm25s.BM25(method="lucene")
        if texts:
            self._bm25.index([bm25_tokens(text) for text in texts], show_progress=False)

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every chunk for the query; all zero when no query term is in the index, and zero outside
        `mask` when one is given."""
        tokens = bm25_tokens(query)
        if not self.size or not tokens:
            return np.zeros(self.size, dtype=np.float32)
        scores = self._bm25.get_scores(tokens)
        return np.where(mask, scores, 0.0) if mask is not None else scores

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> list[int]:
        """Positions of the k best-scoring chunks with a positive score, best first; `mask` keeps only some."""
        return self.best(self.scores(query, mask), k)

    def best(self, scores: np.ndarray, k: int) -> list[int]:
        """Positions of the k highest positive `scores` (one per chunk), best first."""
        k = min(k, self.size)
        if k <= 0:
            return []
        candidates = np.argpartition(-scores, k - 1)[:k]
        order = candidates[np.lexsort((candidates, -scores[candidates]))]  # ties: index order, as before
        return [int(i) for i in order if scores[i] > 0]
