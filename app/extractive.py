"""The embedded default answerer: quotes the retrieved sentences that best answer the question, grouped
by pillar, each followed by its citation marker. No LLM, no network."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.documents import SentenceVectors
from core.embeddings import SentenceEmbedder
from core.pillars import PILLAR_NAMES, sentence_pillar
from core.text import bm25_tokens, split_sentences
from index.retriever import ScoredChunk

NEAR_DUPLICATE = 0.88
RECOMMENDATION_BONUS = 0.03
_RECOMMENDS = re.compile(
    r"^(?:for [^,]{0,60}, |when [^,]{0,60}, |if [^,]{0,60}, )?(?:use|apply|set|configure|enable|disable|retry|wait|"
    r"keep|avoid|prefer|consider|design|plan|add|run|monitor|limit|cap|route|deploy|choose|store|encrypt|test|build|"
    r"implement|define|track|isolate|separate|protect|review|validate|automate|scale|cache|log|measure|version|"
    r"document|establish|ensure|give|put|treat|place|spread|replicate|back up|rotate|restrict|assign|require)\b"
    r"|\b(?:should|must|recommend\w*|make sure)\b",
    re.IGNORECASE,
)
MAX_PER_CHUNK = 3
# A sentence that opens by pointing back ("This keeps ...") means little when quoted without its predecessor.
ANAPHORA_PENALTY = 0.05
_ANAPHORIC = re.compile(r"^(?:this|that|these|those|it|they|such|then|also|however|otherwise)\b", re.IGNORECASE)
# A sentence that repeats the question's distinctive words ("429", "partition key") is more likely the answer
# than one that only shares its topic; words every question about AI on Azure uses do not count.
LEXICAL_BONUS = 0.1
_GENERIC = frozenset(
    "azure openai ai workload workloads use using used how what which should would could can need needs best way "
    "guidance waf recommend recommended recommendation good right make sure handle deal approach".split()
)


@dataclass
class Quote:
    sentence: str
    hit: ScoredChunk
    score: float
    pillar: str


class ExtractiveAnswerer:
    def __init__(
        self,
        embedder: SentenceEmbedder,
        max_sentences: int = 6,
        min_sentence_score: float = 0.3,
        sentence_vectors: SentenceVectors | None = None,
    ):
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.min_sentence_score = min_sentence_score
        self.sentence_vectors = sentence_vectors

    def select(
        self, query_vector: np.ndarray, hits: list[ScoredChunk], pillar: str | None = None,
        part_vectors: list[np.ndarray] | None = None, question: str = "",
    ) -> list[Quote]:
        """The sentences that best answer the question; with several asks, each ask's best sentences in turn."""
        candidates = [(sentence, hit) for hit in hits for sentence in split_sentences(hit.chunk.text)]
        if not candidates:
            return []
        vectors = self._sentence_vectors(hits, candidates)
        # Sentences from higher-ranked chunks win ties: the chunk's own rank is evidence too.
        rank_bonus = np.array([0.05 / (1 + hits.index(hit)) for _, hit in candidates])
        # A sentence that recommends something answers "how should we..." better than one that describes.
        rank_bonus += np.array([RECOMMENDATION_BONUS * bool(_RECOMMENDS.search(sentence)) for sentence, _ in candidates])
        rank_bonus -= np.array([ANAPHORA_PENALTY * bool(_ANAPHORIC.match(sentence)) for sentence, _ in candidates])
        distinctive = set(bm25_tokens(question)) - _GENERIC
        if distinctive:
            rank_bonus += np.array([
                LEXICAL_BONUS * len(distinctive & set(bm25_tokens(sentence))) / len(distinctive)
                for sentence, _ in candidates
            ])
        targets = part_vectors if part_vectors is not None and len(part_vectors) > 1 else [query_vector]
        relevance = [vectors @ target for target in targets]
        orders = [list(np.argsort(-(r + rank_bonus))) for r in relevance]
        chosen: list[int] = []
        scores: dict[int, float] = {}
        per_chunk: dict[str, int] = {}
        exhausted = [False] * len(targets)
        while len(chosen) < self.max_sentences and not all(exhausted):
            for part, order in enumerate(orders):
                if len(chosen) == self.max_sentences or exhausted[part]:
                    continue
                picked = self._next(order, relevance[part], vectors, candidates, chosen, per_chunk)
                if picked is None:
                    exhausted[part] = True
                    continue
                chosen.append(picked)
                scores[picked] = float(relevance[part][picked])
                chunk_id = candidates[picked][1].chunk.chunk_id
                per_chunk[chunk_id] = per_chunk.get(chunk_id, 0) + 1
        if not chosen:  # the best sentence of the best chunk still beats an empty answer
            chosen = [int(orders[0][0])]
            scores[chosen[0]] = float(relevance[0][chosen[0]])
        return [
            Quote(text, candidates[i][1], scores[i], pillar or sentence_pillar(text, candidates[i][1].chunk.pillars))
            for i in chosen
            for text in [self._with_antecedent(i, candidates, chosen)]
        ]

    @staticmethod
    def _with_antecedent(i: int, candidates: list[tuple[str, ScoredChunk]], chosen: list[int]) -> str:
        """A sentence that points back ("This keeps ...") is quoted with the sentence it points to, when that one
        is in the same chunk and not quoted on its own."""
        sentence, hit = candidates[i]
        if i > 0 and _ANAPHORIC.match(sentence) and candidates[i - 1][1] is hit and i - 1 not in chosen:
            return f"{candidates[i - 1][0]} {sentence}"
        return sentence

    def _next(self, order, relevance, vectors, candidates, chosen, per_chunk) -> int | None:
        """The best sentence for one ask not yet chosen, or None when no sentence left is relevant enough."""
        for i in order:
            if relevance[i] < self.min_sentence_score:
                return None
            if i in chosen or per_chunk.get(candidates[i][1].chunk.chunk_id, 0) >= MAX_PER_CHUNK:
                continue
            if chosen and float(np.max(vectors[chosen] @ vectors[i])) > NEAR_DUPLICATE:
                continue
            return int(i)
        return None

    def _sentence_vectors(self, hits: list[ScoredChunk], candidates: list[tuple[str, ScoredChunk]]) -> np.ndarray:
        """Vectors precomputed at ingest when the index has them; otherwise one model pass now."""
        if self.sentence_vectors is not None:
            stored = [self.sentence_vectors.for_chunk(hit.position) for hit in hits]
            if sum(len(s) for s in stored) == len(candidates):
                return np.vstack(stored)
        return self.embedder.encode([sentence for sentence, _ in candidates])


def render(quotes: list[Quote], numbers: dict[str, int]) -> str:
    """Pillar headings in order of their best quote; bullets keep the order in which they were chosen."""
    groups: dict[str, list[Quote]] = {}
    for quote in quotes:
        groups.setdefault(quote.pillar, []).append(quote)
    blocks = []
    for pillar, members in groups.items():
        lines = [f"**{PILLAR_NAMES.get(pillar, pillar.title())}**"]
        lines += [f"- {q.sentence} [{numbers[q.hit.chunk.url]}]" for q in members]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
