"""Gather a design's evidence for each checklist item, and judge it with a transparent rule: evidence
phrases + similarity. (With an LLM backend, app.review.llm_judge judges the same evidence instead.)

For each applicable item: the design's passages are ranked by hybrid search (dense + BM25, reciprocal
rank fusion) for the item; its evidence phrases are looked up in the design text. A phrase that only
appears in a negated or deferred sentence ("no private endpoints yet", "out of scope") is not evidence.

    addressed  phrases >= addressed_phrases and best similarity >= addressed_similarity
    partial    phrases >= 1 or best similarity >= partial_similarity
    missing    otherwise
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from rank_bm25 import BM25Okapi

from app.review.checklist import ChecklistItem
from app.review.parse import DesignDocument
from core.embeddings import SentenceEmbedder
from core.text import bm25_tokens, split_sentences

_KIND_PATTERNS = {
    "generative": r"\b(gpt|llms?|large language models?|azure openai|openai|prompts?|rag|retrieval[- ]augmented|"
    r"copilot|chat ?bots?|agents?|agentic|embeddings?|generative|completions?)\b",
    "training": r"\b(train|training|trained|fine[- ]tun\w*|retrain\w*|feature stores?|hyperparameters?|"
    r"experiment tracking)\b",
    "inference": r"\b(inference|inferencing|endpoints?|model serving|serving|scoring|online endpoints?|predictions?)\b",
}
_DEFERRED = re.compile(
    r"\b(out of scope|later (?:phase|release)|future (?:phase|release|work)|in a future|deferred|tbd|"
    r"to be decided|not yet|planned for later|will be added later|nice to have|backlog)\b",
    re.IGNORECASE,
)
_NEGATOR = re.compile(r"\b(no|not|never|without|none|lacks?|missing)\b|n't\b", re.IGNORECASE)
_NEGATION_WINDOW = 5  # words before a phrase in which a negator cancels it
_PASSAGE_WORDS = 90


@dataclass(frozen=True)
class ReviewThresholds:
    addressed_phrases: int = 2
    addressed_similarity: float = 0.30
    partial_similarity: float = 0.55


@dataclass
class Passage:
    text: str
    location: str


class Evidence(BaseModel):
    quote: str = Field(description="passage of the design document")
    location: str = Field(description="section heading path or page it came from")
    similarity: float


class GuidanceLink(BaseModel):
    title: str
    section: str
    url: str = Field(description="official Well-Architected guidance URL")


Status = Literal["addressed", "partial", "missing", "not-applicable"]


class Finding(BaseModel):
    item_id: str
    pillar: str
    title: str
    status: Status
    severity: Literal["high", "medium", "low"]
    recommendation: str
    risk: str
    evidence: list[Evidence] = Field(default_factory=list)
    matched_phrases: list[str] = Field(default_factory=list)
    deferred_phrases: list[str] = Field(default_factory=list, description="mentioned only as absent or deferred")
    similarity: float = 0.0
    citations: list[GuidanceLink] = Field(default_factory=list)
    assessed_by: str = Field("rule", description="'rule', or the name of the LLM backend that judged the item")
    rationale: str = Field("", description="why this status: the rule's inputs, or the judge's one sentence")


def detect_workload_kinds(text: str) -> list[str]:
    lowered = text.lower()
    counts = {kind: len(re.findall(pattern, lowered)) for kind, pattern in _KIND_PATTERNS.items()}
    return [kind for kind, count in counts.items() if count >= 2]


def applies(item: ChecklistItem, kinds: list[str]) -> bool:
    return "all" in item.applies_to or any(kind in kinds for kind in item.applies_to)


def design_passages(document: DesignDocument) -> list[Passage]:
    """Paragraph-sized passages that keep the section they came from."""
    passages: list[Passage] = []
    for section in document.sections:
        words: list[str] = []
        for sentence in split_sentences(section.text) or [section.text]:
            words += sentence.split()
            if len(words) >= _PASSAGE_WORDS:
                passages.append(Passage(" ".join(words), section.location))
                words = []
        if words:
            passages.append(Passage(" ".join(words), section.location))
    return passages


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def phrase_pattern(phrase: str) -> re.Pattern:
    """Adjacent words of the phrase, separated by spaces, hyphens or slashes, plural allowed."""
    words = [re.escape(w) for w in _words(phrase)]
    return re.compile(r"\b" + r"[\s\-/]+".join(words) + r"(?:e?s)?\b", re.IGNORECASE)


def phrase_positions(phrase: str, sentence: str) -> list[int]:
    """Character offsets where the phrase is stated in the sentence. Phrases of three or more words also
    match when all their words occur in the sentence ("public network access is disabled")."""
    positions = [m.start() for m in phrase_pattern(phrase).finditer(sentence)]
    words = _words(phrase)
    if not positions and len(words) >= 3:
        found = [re.search(r"\b" + re.escape(w) + r"(?:e?s)?\b", sentence, re.IGNORECASE) for w in words]
        if all(found):
            positions = [min(m.start() for m in found if m)]
    return positions


def _negated(sentence: str, position: int) -> bool:
    before = sentence[:position].split()[-_NEGATION_WINDOW:]
    return bool(_NEGATOR.search(" ".join(before)))


def find_phrases(item: ChecklistItem, sentences: list[str]) -> tuple[list[str], list[str]]:
    """(phrases stated as present, phrases mentioned only as absent or deferred)."""
    found, deferred = [], []
    for phrase in item.evidence:
        stated = mentioned = False
        for sentence in sentences:
            for position in phrase_positions(phrase, sentence):
                mentioned = True
                if not _DEFERRED.search(sentence) and not _negated(sentence, position):
                    stated = True
        if stated:
            found.append(phrase)
        elif mentioned:
            deferred.append(phrase)
    return found, deferred


def status_for(phrases: int, similarity: float, t: ReviewThresholds) -> str:
    if phrases >= t.addressed_phrases and similarity >= t.addressed_similarity:
        return "addressed"
    if phrases >= 1 or similarity >= t.partial_similarity:
        return "partial"
    return "missing"


@dataclass
class ItemEvidence:
    """What the design offers for one checklist item: the input of both the rule and the LLM judge."""

    item: ChecklistItem
    applicable: bool
    candidates: list[Evidence] = field(default_factory=list)  # design passages, best first (RRF)
    matched_phrases: list[str] = field(default_factory=list)
    deferred_phrases: list[str] = field(default_factory=list)
    similarity: float = 0.0  # best dense similarity of any passage
    citations: list[GuidanceLink] = field(default_factory=list)


class Assessor:
    def __init__(
        self,
        embedder: SentenceEmbedder,
        checklist: list[ChecklistItem],
        thresholds: ReviewThresholds = ReviewThresholds(),
        guidance=None,  # index.faiss.retriever.HybridRetriever over the WAF index, for citations; optional
    ):
        self.embedder = embedder
        self.checklist = checklist
        self.thresholds = thresholds
        self.guidance = guidance
        self._item_vectors = embedder.encode([_item_query(item) for item in checklist])

    def assess(self, document: DesignDocument) -> tuple[list[Finding], list[str]]:
        """Findings by the transparent rule, and the workload kinds detected."""
        kinds, gathered = self.gather(document)
        return [self.rule_finding(evidence) for evidence in gathered], kinds

    def gather(self, document: DesignDocument) -> tuple[list[str], list[ItemEvidence]]:
        kinds = detect_workload_kinds(document.text)
        passages = design_passages(document)
        sentences = [s for section in document.sections for s in split_sentences(section.text)]
        vectors = self.embedder.encode([p.text for p in passages])
        bm25 = BM25Okapi([bm25_tokens(p.text) for p in passages]) if passages else None
        gathered = []
        for item, item_vector in zip(self.checklist, self._item_vectors):
            if not applies(item, kinds):
                gathered.append(ItemEvidence(item, applicable=False))
                continue
            similarities = vectors @ item_vector if len(passages) else np.zeros(0)
            found, deferred = find_phrases(item, sentences)
            gathered.append(ItemEvidence(
                item, True, _ranked(item, passages, similarities, bm25), found, deferred,
                round(float(similarities.max()) if len(similarities) else 0.0, 4),
                self._citations(item, item_vector),
            ))
        return kinds, gathered

    def rule_finding(self, evidence: ItemEvidence) -> Finding:
        if not evidence.applicable:
            finding = _finding(evidence.item, "not-applicable")
            finding.rationale = f"applies to {', '.join(evidence.item.applies_to)} workloads; none detected"
            return finding
        status = status_for(len(evidence.matched_phrases), evidence.similarity, self.thresholds)
        finding = _finding(evidence.item, status)
        finding.rationale = (
            f"{len(evidence.matched_phrases)} evidence phrase(s) stated"
            + (f" ({', '.join(evidence.matched_phrases)})" if evidence.matched_phrases else "")
            + f"; best passage similarity {evidence.similarity:.2f}"
        )
        finding.matched_phrases, finding.deferred_phrases = evidence.matched_phrases, evidence.deferred_phrases
        finding.similarity = evidence.similarity
        if status != "missing":  # a gap has no evidence; nearby text would only mislead
            finding.evidence = [
                quote for quote in evidence.candidates[:2]
                if quote.similarity >= self.thresholds.addressed_similarity * 0.75
                or any(phrase_positions(p, quote.quote) for p in evidence.matched_phrases)
            ]
        finding.citations = evidence.citations
        return finding

    def _citations(self, item: ChecklistItem, item_vector: np.ndarray) -> list[GuidanceLink]:
        links = [GuidanceLink(title=item.title, section="Review checklist source", url=item.source_url)]
        if self.guidance is not None:
            for hit in self.guidance.search(_item_query(item), k=2, query_vector=item_vector):
                if hit.chunk.url not in {link.url for link in links}:
                    links.append(GuidanceLink(title=hit.chunk.title, section=hit.chunk.section_label, url=hit.chunk.url))
        return links


def _ranked(item: ChecklistItem, passages: list[Passage], similarities: np.ndarray, bm25, keep: int = 4) -> list[Evidence]:
    """The design's passages for the item by reciprocal rank fusion of dense similarity and BM25 over the
    item and its phrases, best first."""
    if not passages:
        return []
    fused = np.zeros(len(passages))
    for rank, i in enumerate(np.argsort(-similarities)[:10]):
        fused[i] += 1 / (60 + rank + 1)
    scores = bm25.get_scores(bm25_tokens(" ".join([item.title, *item.evidence])))
    for rank, i in enumerate(np.argsort(-scores)[:10]):
        if scores[i] > 0:
            fused[i] += 1 / (60 + rank + 1)
    return [
        Evidence(quote=passages[i].text, location=passages[i].location, similarity=round(float(similarities[i]), 4))
        for i in np.argsort(-fused)[:keep]
        if fused[i] > 0
    ]


def _item_query(item: ChecklistItem) -> str:
    return f"{item.title}. {item.recommendation}"


def _finding(item: ChecklistItem, status: str) -> Finding:
    return Finding(
        item_id=item.id, pillar=item.pillar, title=item.title, status=status, severity=item.severity,
        recommendation=item.recommendation, risk=item.risk_if_missing,
    )
