"""The answer object that the CLI, the UI and the evaluation share."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.documents import OFFICIAL_DOCS_ATTRIBUTION, OFFICIAL_DOCS_LICENSE, Chunk
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
    fused_score: float

    @classmethod
    def from_hit(cls, hit: ScoredChunk) -> Passage:
        c = hit.chunk
        return cls(c.chunk_id, c.title, c.section_label, c.url, list(c.pillars), c.text, hit.dense_score, hit.fused_score)


@dataclass
class Citation:
    number: int
    title: str
    section: str
    url: str
    pillars: list[str]
    chunk_id: str
    passage: str
    official_docs: bool = False  # quoted from the official docs: the source line names their license

    @property
    def source_line(self) -> str:
        license = f" (Microsoft Learn, {OFFICIAL_DOCS_LICENSE})" if self.official_docs else ""
        return f"[{self.number}] {self.section} — {self.url}{license}"

    @classmethod
    def from_chunk(cls, number: int, chunk: Chunk) -> Citation:
        return cls(
            number, chunk.title, chunk.section_label, chunk.url, list(chunk.pillars), chunk.chunk_id, chunk.text,
            chunk.from_official_docs,
        )


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
        lines = ["Sources", *(c.source_line for c in self.citations)]
        if any(c.official_docs for c in self.citations):
            lines.append(OFFICIAL_DOCS_ATTRIBUTION)
        return "\n".join(lines)

    def display_text(self) -> str:
        """The body followed by its sources: what the CLI prints and the evaluation reads."""
        sources = self.sources_text()
        return f"{self.text}\n\n{sources}" if sources else self.text

    def to_dict(self) -> dict:
        return asdict(self)
