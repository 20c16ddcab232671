"""The answer object that the CLI, the UI and the evaluation share."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass
class Answer:
    question: str
    text: str
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

    def to_dict(self) -> dict:
        return asdict(self)
