"""The answer object that the CLI, the UI and the evaluation share."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.documents import Chunk
from index.retriever import ScoredChunk


@dataclass
class Passage:
    """A retrieved chunk, as shown to the reader and scored by the evaluation."""

    chunk_id: str
    title: str
    section: str
    url: str
    pillars: list[str]
    text: str
    dense_score: float | None
    rrf_score: float

    @classmethod
    def from_hit(cls, hit: ScoredChunk) -> Passage:
        c = hit.chunk
        return cls(c.chunk_id, c.title, c.section_label, c.url, list(c.pillars), c.text, hit.dense_score, hit.rrf_score)


@dataclass
class Citation:
    number: int
    title: str
    section: str
    url: str
    pillars: list[str]
    chunk_id: str
    passage: str

    @property
    def source_line(self) -> str:
        return f"[{self.number}] {self.section} — {self.url}"

    @classmethod
    def from_chunk(cls, number: int, chunk: Chunk) -> Citation:
        return cls(number, chunk.title, chunk.section_label, chunk.url, list(chunk.pillars), chunk.chunk_id, chunk.text)


@dataclass
class Answer:
    question: str
    text: str  # the body: statements with [n] markers, or the decline; the sources are `citations`
    citations: list[Citation]
    pillars: list[str]
    passages: list[Passage]
    refused: bool = False
    backend: str = "extractive"
    suggestions: list[str] = field(default_factory=list)
    best_score: float = 0.0
    standalone_question: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # Generative answers (app/llm): what verification found, which backends were tried, what it cost.
    unsupported_sentences: list[str] = field(default_factory=list)
    removed_markers: int = 0
    notice: str = ""
    follow_ups: list[str] = field(default_factory=list)
    usage: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)

    def sources_text(self) -> str:
        """The numbered source list, as plain text ("" when nothing is cited)."""
        if not self.citations:
            return ""
        return "Sources\n" + "\n".join(c.source_line for c in self.citations)

    def display_text(self) -> str:
        """The body followed by its sources: what the CLI prints and the evaluation reads."""
        sources = self.sources_text()
        return f"{self.text}\n\n{sources}" if sources else self.text

    def to_dict(self) -> dict:
        return asdict(self)
