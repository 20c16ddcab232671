"""Plain data passed between the ingest stages (load -> split -> embed -> index) and to retrieval."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# Bump when loading or splitting changes the chunks or citations of unchanged files: indexes made by an older
# version are rebuilt instead of reused. 2: tab headings and repeated headings cite the nearest unique heading.
# 3: navigation sections ("Next steps", "Related links") are not indexed.
CHUNKING_VERSION = 3
OFFICIAL_DOCS_FOLDER = "well-architected"  # the docs tree of MicrosoftDocs/well-architected, and its source keys' root
OFFICIAL_DOCS_LICENSE = "CC BY 4.0"
OFFICIAL_DOCS_ATTRIBUTION = (
    "Includes text from the Azure Well-Architected Framework documentation by Microsoft"
    " (https://learn.microsoft.com/azure/well-architected/), licensed under CC BY 4.0"
    " (https://creativecommons.org/licenses/by/4.0/). Quoted as published; excerpts selected by this assistant."
)


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path of a loaded document."""

    heading_path: tuple[str, ...]
    text: str
    url: str


@dataclass
class LoadedDocument:
    source_key: str  # stable id of the file inside its root, e.g. "corpus/ai/testing/x.md"
    path: str
    title: str
    content_hash: str
    sections: list[Section]
    pillars: list[str] = field(default_factory=list)  # from front matter, when it names them
    topics: list[str] = field(default_factory=list)
    kind: str = "markdown"


@dataclass
class Chunk:
    chunk_id: str
    source_key: str
    title: str
    heading_path: list[str]
    url: str
    text: str  # what a reader sees and what the answerer quotes
    embed_text: str  # title and heading path prefixed: what is embedded and searched
    pillars: list[str]
    topics: list[str]
    content_hash: str  # of the whole source file, for incremental ingest

    @property
    def from_official_docs(self) -> bool:
        """Quoted from the official docs (not from our corpus): its citation carries the license's attribution."""
        return self.source_key.split("/", 1)[0] == OFFICIAL_DOCS_FOLDER

    @property
    def section_label(self) -> str:
        return " > ".join([self.title, *[h for h in self.heading_path if h != self.title]])

    def citation_metadata(self) -> dict:
        """What a citation shows of the chunk: the fields every index backend stores beside the text."""
        return {
            "title": self.title,
            "heading_path": list(self.heading_path),
            "section": self.section_label,
            "url": self.url,
            "pillars": list(self.pillars),
            "topics": list(self.topics),
            "source_key": self.source_key,
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**data)


@dataclass
class SentenceVectors:
    """Vectors of every chunk's sentences (core.text.split_sentences order), chunk after chunk."""

    vectors: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    def for_chunk(self, position: int) -> np.ndarray:
        return self.vectors[self.offsets[position]: self.offsets[position + 1]]

    def for_rows(self, rows: list[int]) -> SentenceVectors:
        parts = [self.for_chunk(r) for r in rows]
        dimension = self.vectors.shape[1]
        stacked = np.vstack(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        return SentenceVectors(stacked, self.counts[rows])
