"""Gather a design's evidence for each checklist item, and judge it offline: sentence by sentence, the way
designs are written. (With an LLM backend, app.review.llm_judge judges the same evidence instead.)

For each item that applies (app.review.applicability), every sentence of the design is compared with the
item's coverage statements ("services authenticate with managed identities", "no API keys are stored") and
gap statements ("the API key is kept in app settings") by embedding similarity, and searched for the item's
concept terms on their stems. Hedged or deferred wording ("planned for phase 2", "we intend to", "TBD") is
marked. A small multinomial logistic model (parameters in corpus/checklist/review-model.json, fitted on the
dev designs by `python -m eval.fit_review_model`) turns these signals into addressed / partial / missing with
a confidence. Every finding quotes the sentences that decided it and the statement they matched.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from app.review.applicability import Applicability, applicability
from app.review.checklist import ChecklistItem
from app.review.examples import ExampleBank, ExampleMatch
from app.review.parse import DesignDocument
from app.review.statements import StatementBank, concept_pattern, stems
from core.embeddings import SentenceEmbedder
from core.lexical import LexicalIndex
from core.text import split_sentences, words

HEDGED = re.compile(
    r"\b(plan(?:ned|s)? (?:to|for)|we (?:intend|hope|aim|want|would like|might|may|could) to|intend(?:ed|s)? to|"
    r"will (?:be )?(?:consider|evaluat|look|explor|investigat)\w*|to be (?:confirmed|decided|defined|agreed|determined)|"
    r"tbd|tbc|todo|not yet|phase (?:2|two|3|three)|v2|later (?:phase|release|stage)|future (?:phase|release|work)|"
    r"in (?:a )?future|deferred|backlog|nice[- ]to[- ]have|should probably|maybe|perhaps|open question|proposed|"
    r"under discussion|not decided|undecided|eventually|roadmap|post[- ]?mvp|after (?:the )?mvp|not (?:in|part of) (?:the )?mvp|"
    r"post[- ](?:launch|go[- ]live|ga)|after (?:go[- ]live|launch|ga)|next (?:phase|release|milestone|iteration))\b"
    r"|\[ \]|\u2610",  # an unchecked task box ("- [ ] Per-user token quotas", Word's ballot box): an open item
    re.IGNORECASE,
)
_PASSAGE_WORDS = 90
_UNIT_WORDS = 3  # terse bullets ("Managed identity everywhere") count as statements
NEGATED = re.compile(
    r"\b(no|not|never|none|without|nor|won't|will not|don't|do not|doesn't|does not|isn't|is not|aren't|are not|"
    r"nothing|lacks?|missing|skip(?:ped)?|out of scope|unverified|untested|unknown|unclear)\b|n't\b",
    re.IGNORECASE,
)
FEATURES = (
    "coverage", "coverage_top3", "gap", "gap_minus_coverage", "concepts", "concept_sentences", "concept_coverage",
    "clean_concept_coverage", "hedged_share", "negated_share", "concept_gap", "strong_sentence",
    "strong_concept_sentences", "example_addressed", "example_partial", "example_missing", "example_margin",
)
STATUSES = ("missing", "partial", "addressed")
EXAMPLE_SHOWN = 0.6  # a labelled example this close to a design sentence is worth showing in the rationale
LOW_CONFIDENCE = 0.6  # below this, the UI and comparisons ask the architect to check the finding


@dataclass
class Passage:
    text: str
    location: str


class Evidence(BaseModel):
    quote: str = Field(description="passage of the design document")
    location: str = Field(description="section heading path or page it came from")
    similarity: float
    line: int | None = Field(None, description="1-based line of the quote in a Markdown or text document")


class GuidanceLink(BaseModel):
    title: str
    section: str
    url: str = Field(description="official Well-Architected guidance URL")


Status = Literal["addressed", "partial", "missing", "not-applicable"]


class Override(BaseModel):
    status_before: str = Field(description="what the assessor said")
    note: str = Field("", description="the architect's reason")


class Finding(BaseModel):
    item_id: str
    pillar: str
    title: str
    status: Status
    severity: Literal["high", "medium", "low"]
    effort: Literal["low", "medium", "high"] = Field("medium", description="work to close the gap (from the checklist)")
    horizon: Literal["now", "next quarter", "later", ""] = Field(
        "", description="when to close the gap, from severity and effort; empty when it is not a gap"
    )
    horizon_reason: str = ""
    recommendation: str
    risk: str
    evidence: list[Evidence] = Field(default_factory=list, description="the design's sentences that decided it")
    matched_statement: str = Field("", description="the coverage or gap statement those sentences matched")
    concepts: list[str] = Field(default_factory=list, description="the item's concept terms found in the design")
    confidence: float | None = Field(None, description="probability of the status under the offline model")
    similarity: float = Field(0.0, description="best similarity of a design sentence to a coverage statement")
    citations: list[GuidanceLink] = Field(default_factory=list)
    assessed_by: str = Field("rule", description="'rule' (the offline assessor), or the LLM backend that judged the item")
    rationale: str = Field("", description="why this status: the offline signals, or the judge's one sentence")
    override: Override | None = Field(None, description="the architect's decision, when it replaced the assessor's")


def design_passages(document: DesignDocument) -> list[Passage]:
    """Paragraph-sized passages that keep the section they came from (what the LLM judge reads)."""
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


def design_sentences(document: DesignDocument) -> list[Passage]:
    """Every sentence, bullet and table row of the design with three words or more, with its section, once.

    Exports carry text that states nothing: mail headers ("From:", "Subject:"), quote marks before copies of
    earlier mails ("> ..."), slide labels ("Speaker notes:"). Header lines are left out, quote marks and labels
    taken off, and a sentence quoted again later counts once.
    """
    found: list[Passage] = []
    seen: set[str] = set()
    for section in document.sections:
        lines = (_SLIDE_LABEL.sub("", _QUOTED.sub("", line)) for line in section.text.split("\n"))
        text = "\n".join(line for line in lines if not _EXPORT_HEADER.match(line))
        for sentence in split_sentences(text, min_words=_UNIT_WORDS):
            key = " ".join(words(sentence))
            if key not in seen:
                seen.add(key)
                found.append(Passage(sentence, section.location))
    return found


_QUOTED = re.compile(r"^\s*(?:>\s*)+")  # a quoted copy of an earlier mail, or a Markdown block quote
_EXPORT_HEADER = re.compile(
    r"^\s*(?:from|to|cc|bcc|sent|date|subject|attachments?|importance|export(?:ed)? (?:date|from))\s*:", re.IGNORECASE
)
_SLIDE_LABEL = re.compile(r"^\s*(?:speaker notes|presenter notes|slide \d+)\s*[:\u2014\u2013-]\s*", re.IGNORECASE)


@dataclass
class StatusModel:
    """Multinomial logistic regression over FEATURES: P(status) = softmax(W x + b)."""

    weights: np.ndarray  # (len(STATUSES), len(FEATURES))
    intercept: np.ndarray
    exclusion_threshold: float = 0.62

    @classmethod
    def load(cls, path: Path) -> StatusModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES or tuple(data["classes"]) != STATUSES:
            raise ValueError(f"{path} was fitted for other features or classes; refit: python -m eval.fit_review_model")
        return cls(np.array(data["coef"]), np.array(data["intercept"]), data.get("exclusion_threshold", 0.62))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = self.weights @ features + self.intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()


@dataclass
class Signals:
    """What the design says about one item, sentence by sentence."""

    features: np.ndarray
    coverage_quotes: list[Evidence]  # best coverage sentences, best first
    coverage_statement: str
    gap_quote: Evidence | None
    gap_statement: str
    concepts: list[str]
    hedged: bool
    best_coverage: float
    example: tuple[str, str, float] | None = None  # the item's closest labelled example: (status, quote, similarity)


@dataclass
class SentenceFacts:
    """Per design sentence: its stem n-grams (for concepts), and whether it is hedged or negated."""

    grams: list[set[tuple[str, ...]]]
    hedged: np.ndarray
    negated: np.ndarray

    @classmethod
    def of(cls, sentences: list[Passage]) -> SentenceFacts:
        grams = []
        for sentence in sentences:
            words = stems(sentence.text)
            grams.append({tuple(words[i: i + n]) for n in range(1, 6) for i in range(len(words) - n + 1)})
        return cls(
            grams,
            np.array([bool(HEDGED.search(s.text)) for s in sentences], dtype=bool),
            np.array([bool(NEGATED.search(s.text)) for s in sentences], dtype=bool),
        )


@dataclass
class ItemEvidence:
    """What the design offers for one checklist item: the input of the offline model and of the LLM judge."""

    item: ChecklistItem
    applicable: bool
    candidates: list[Evidence] = field(default_factory=list)  # design passages for the LLM judge, best first
    signals: Signals | None = None
    not_applicable_reason: str = ""
    citations: list[GuidanceLink] = field(default_factory=list)


class Assessor:
    def __init__(
        self,
        embedder: SentenceEmbedder,
        checklist: list[ChecklistItem],
        statements: StatementBank,
        model: StatusModel,
        guidance=None,  # a GuidanceRetriever over the WAF index, for citations; optional
        examples: ExampleBank | None = None,
    ):
        self.embedder = embedder
        self.checklist = checklist
        self.model = model
        self.examples = examples or ExampleBank.empty()
        self._item_ids = [item.id for item in checklist]
        self.guidance = guidance
        self._item_vectors = embedder.encode([_item_query(item) for item in checklist])
        banks = [statements.items.get(item.id) for item in checklist]
        self._coverage = [
            (list(bank.coverage) if bank else []) + [_item_query(item)] for item, bank in zip(checklist, banks)
        ]
        self._gaps = [list(bank.gaps) if bank else [] for bank in banks]
        self._concepts = [
            list(dict.fromkeys([*(bank.concepts if bank else []), *(e.lower() for e in item.evidence)]))
            for item, bank in zip(checklist, banks)
        ]
        self._concept_patterns = [[(c, concept_pattern(c)) for c in concepts] for concepts in self._concepts]
        self._coverage_negated = [np.array([bool(NEGATED.search(s)) for s in group], dtype=bool) for group in self._coverage]
        flat = [s for group in self._coverage + self._gaps for s in group]
        vectors = embedder.encode(flat)
        offsets = np.cumsum([0] + [len(g) for g in self._coverage + self._gaps])
        groups = [vectors[offsets[i]: offsets[i + 1]] for i in range(len(offsets) - 1)]
        self._coverage_vectors = groups[: len(checklist)]
        self._gap_vectors = groups[len(checklist):]
        self._exclusion_vectors = {
            group: embedder.encode(sentences) for group, sentences in statements.exclusions.items() if sentences
        }

    def assess(self, document: DesignDocument) -> tuple[list[Finding], list[str]]:
        """Findings by the offline model, and the workload kinds detected."""
        kinds, gathered = self.gather(document, with_passages=False)
        return [self.rule_finding(evidence) for evidence in gathered], kinds

    def gather(self, document: DesignDocument, with_passages: bool = True) -> tuple[list[str], list[ItemEvidence]]:
        """Every item's evidence. with_passages: also rank the design's paragraphs for each item (what the LLM judge
        reads); the offline model needs only the sentences, so it skips encoding the document a second time."""
        sentences, sentence_vectors, facts = self.read(document)
        scope = self.scope(document, sentences, sentence_vectors)
        examples = self.match_examples(sentence_vectors)
        passages = design_passages(document) if with_passages else []
        passage_vectors = self.embedder.encode([p.text for p in passages])
        lexical = LexicalIndex([p.text for p in passages])
        gathered = []
        for index, (item, item_vector) in enumerate(zip(self.checklist, self._item_vectors)):
            reason = scope.reason_not_applicable(item)
            if reason:
                gathered.append(ItemEvidence(item, False, not_applicable_reason=reason))
                continue
            similarities = passage_vectors @ item_vector if len(passages) else np.zeros(0)
            signals = self._signals(index, sentences, sentence_vectors, facts, examples)
            gathered.append(ItemEvidence(
                item, True, _ranked(item, passages, similarities, lexical), signals,
                citations=self._citations(item, item_vector),
            ))
        return scope.kinds, gathered

    def read(self, document: DesignDocument) -> tuple[list[Passage], np.ndarray, SentenceFacts]:
        """The design's sentences, their vectors and facts: computed once per review."""
        sentences = design_sentences(document)
        vectors = self.embedder.encode([s.text for s in sentences]) if sentences else np.zeros((0, 1))
        return sentences, vectors, SentenceFacts.of(sentences)

    def scope(self, document: DesignDocument, sentences: list[Passage], vectors: np.ndarray) -> Applicability:
        return applicability(
            document.text, [s.text for s in sentences], vectors, self._exclusion_vectors, self.model.exclusion_threshold
        )

    def match_examples(self, vectors: np.ndarray, exclude: frozenset[str] = frozenset()) -> ExampleMatch:
        return self.examples.match(vectors, self._item_ids, exclude)

    def all_signals(
        self, sentences: list[Passage], vectors: np.ndarray, facts: SentenceFacts, examples: ExampleMatch
    ) -> list[Signals]:
        """The signals of every item, applicable or not (what the model is fitted on)."""
        return [self._signals(i, sentences, vectors, facts, examples) for i in range(len(self.checklist))]

    def _signals(
        self, index: int, sentences: list[Passage], vectors: np.ndarray, facts: SentenceFacts, examples: ExampleMatch
    ) -> Signals:
        concepts = self._concept_patterns[index]
        if not sentences:
            return Signals(np.zeros(len(FEATURES)), [], "", None, "", [], False, 0.0)
        by_example = examples.features[index]
        hits = [{name for name, pattern in concepts if pattern in grams} for grams in facts.grams]
        found = sorted(set().union(*hits))
        with_concept = np.array([bool(h) for h in hits], dtype=bool)
        # Polarity: "No budget alerts." is as close to "Budget alerts are configured" as a sentence gets, and says
        # the opposite. A sentence whose negation differs from the coverage statement it matches is gap evidence.
        similarity = vectors @ self._coverage_vectors[index].T
        agrees = facts.negated[:, None] == self._coverage_negated[index][None, :]
        coverage = np.where(agrees, similarity, -1.0)
        contradiction = np.where(agrees, -1.0, similarity).max(axis=1)
        best_coverage = coverage.max(axis=1)
        order = np.argsort(-(best_coverage + 0.05 * with_concept))
        best = int(order[0])
        gap_vectors = self._gap_vectors[index]
        gap = (vectors @ gap_vectors.T).max(axis=1) if len(gap_vectors) else np.full(len(sentences), -1.0)
        gap = np.maximum(gap, contradiction)
        best_gap = int(np.argmax(gap))
        clean = with_concept & ~facts.hedged & ~facts.negated
        strong = best_coverage > 0.55
        features = np.array([
            float(best_coverage[best]),
            float(np.mean(np.sort(best_coverage)[-3:])),
            float(gap[best_gap]),
            float(gap[best_gap] - best_coverage[best]),
            min(len(found), 3) / 3,
            min(int(with_concept.sum()), 4) / 4,
            float(best_coverage[with_concept].max()) if with_concept.any() else 0.0,
            float(best_coverage[clean].max()) if clean.any() else 0.0,
            float(facts.hedged[with_concept].mean()) if with_concept.any() else 0.0,
            float(facts.negated[with_concept].mean()) if with_concept.any() else 0.0,
            float(gap[with_concept].max()) if with_concept.any() else 0.0,
            float((best_coverage > 0.6)[~facts.hedged].any()),
            min(int((strong & with_concept & ~facts.hedged).sum()), 4) / 4,
            *example_features(by_example),
        ])
        quotes = [
            Evidence(quote=sentences[i].text, location=sentences[i].location, similarity=round(float(best_coverage[i]), 4))
            for i in order[:2]
        ]
        statement = self._coverage[index][int(np.argmax(coverage[best]))]
        if contradiction[best_gap] >= gap[best_gap] and contradiction[best_gap] > -1:
            gap_statement = "the opposite of: " + self._coverage[index][int(np.argmax(similarity[best_gap]))]
        else:
            gap_statement = self._gaps[index][int(np.argmax(gap_vectors @ vectors[best_gap]))] if len(gap_vectors) else ""
        gap_quote = Evidence(
            quote=sentences[best_gap].text, location=sentences[best_gap].location, similarity=round(float(gap[best_gap]), 4)
        )
        return Signals(features, quotes, statement, gap_quote, gap_statement, found, bool(facts.hedged[best]),
                       round(float(best_coverage[best]), 4), examples.closest[index])

    def rule_finding(self, evidence: ItemEvidence) -> Finding:
        """The offline model's finding, with the sentences that decided it and its confidence."""
        if not evidence.applicable:
            finding = _finding(evidence.item, "not-applicable")
            finding.rationale = evidence.not_applicable_reason
            return finding
        signals = evidence.signals
        assert signals is not None
        probabilities = self.model.probabilities(signals.features)
        status = STATUSES[int(np.argmax(probabilities))]
        finding = _finding(evidence.item, status)
        finding.confidence = round(float(probabilities.max()), 3)
        finding.similarity = signals.best_coverage
        finding.concepts = signals.concepts
        finding.citations = evidence.citations
        if status == "missing":
            if signals.gap_quote is not None and signals.features[FEATURES.index("gap_minus_coverage")] > 0:
                finding.evidence = [signals.gap_quote]
                finding.matched_statement = signals.gap_statement
                finding.rationale = f'the design reveals the gap: it reads like "{signals.gap_statement}"'
            else:
                finding.rationale = "nothing in the document addresses this"
        else:
            finding.evidence = signals.coverage_quotes[:1] if status == "partial" else signals.coverage_quotes
            finding.matched_statement = signals.coverage_statement
            finding.rationale = (
                f'closest to "{signals.coverage_statement}" (similarity {signals.best_coverage:.2f})'
                + (f"; concepts found: {', '.join(signals.concepts)}" if signals.concepts else "")
                + ("; stated as planned or undecided" if signals.hedged else "")
            )
        if signals.example is not None and signals.example[2] >= EXAMPLE_SHOWN:
            example_status, example_quote, example_similarity = signals.example
            finding.rationale += (
                f'; like a reviewed example judged {example_status}: "{example_quote}" ({example_similarity:.2f})'
            )
        finding.rationale += f"; confidence {finding.confidence:.2f}"
        return finding

    def _citations(self, item: ChecklistItem, item_vector: np.ndarray) -> list[GuidanceLink]:
        links = [GuidanceLink(title=item.title, section="Review checklist source", url=item.source_url)]
        if self.guidance is not None:
            for hit in self.guidance.search(_item_query(item), k=2, query_vector=item_vector):
                if hit.chunk.url not in {link.url for link in links}:
                    links.append(GuidanceLink(title=hit.chunk.title, section=hit.chunk.section_label, url=hit.chunk.url))
        return links


def example_features(best: np.ndarray) -> list[float]:
    """The last FEATURES from an item's best example similarities (addressed, partial, missing)."""
    return [float(best[0]), float(best[1]), float(best[2]), float(best[0] - best[2])]


EXAMPLE_FEATURES = 4  # how many of FEATURES come from the labelled examples, at the end


def _ranked(
    item: ChecklistItem, passages: list[Passage], similarities: np.ndarray, lexical: LexicalIndex, keep: int = 4
) -> list[Evidence]:
    """The design's passages for the item by reciprocal rank fusion of dense similarity and BM25 over the
    item and its phrases, best first."""
    if not passages:
        return []
    fused = np.zeros(len(passages))
    for rank, i in enumerate(np.argsort(-similarities)[:10]):
        fused[i] += 1 / (60 + rank + 1)
    for rank, i in enumerate(lexical.top(" ".join([item.title, *item.evidence]), 10)):
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
        effort=item.effort, recommendation=item.recommendation, risk=item.risk_if_missing,
    )
