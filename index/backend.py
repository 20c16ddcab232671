"""The seam between the index backends and their users.

An index backend (FAISS on disk, Azure AI Search) offers three things:

- `open_writer(rebuild)`: an `IndexWriter` that tells the ingest job which files it already holds (so unchanged
  files are neither loaded nor embedded again) and writes what the job produced;
- `describe()`: what `waf-assistant info` prints;
- `open_retriever(embedder)`: a `GuidanceRetriever` (index.retriever) for the assistant, the review and the
  evaluation.

`index_backend(settings)` is the one place that maps WAF_INDEX_BACKEND to a backend. Backends are imported
only when chosen: the Azure SDK is an optional extra.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.documents import Chunk, SentenceVectors
from core.embeddings import SentenceEmbedder
from core.settings import Settings
from index.retriever import GuidanceRetriever

# WAF_INDEX_BACKEND -> "module:class"
BACKENDS = {
    "faiss": "index.faiss.backend:FaissBackend",
    "azure-search": "index.azure_search.backend:AzureSearchBackend",
}


@dataclass
class IndexedFile:
    """What an index holds of one source file, as the ingest job needs to know it."""

    digest: str  # the file's content hash when it was indexed
    reusable: bool  # its chunks are there, made by the current model and chunking: keep them as they are
    chunks: int = 0
    skipped: str = ""  # why the file was skipped last time (recorded so an unchanged bad file is not retried)


@dataclass
class IngestBatch:
    """What one ingest run hands to the writer."""

    files: dict[str, dict]  # source key -> {"hash", "path", "chunks"[, "skipped"]}, in source order
    kept: set[str]  # source keys whose indexed chunks stay as they are
    new_chunks: list[Chunk]
    new_vectors: np.ndarray
    new_sentences: SentenceVectors | None  # vectors of the new chunks' sentences, when the writer keeps them
    embedder: Callable[[], SentenceEmbedder]  # loads the model only when the writer needs it
    max_tokens: Callable[[], int]  # the chunk size in effect (the model's own limit when unset)
    roots: list[str] = field(default_factory=list)


class IndexWriter(ABC):
    label: str  # where the index is, for messages and the summary
    keeps_sentence_vectors: bool = False  # True: the job also embeds each new chunk's sentences

    @abstractmethod
    def indexed_files(self) -> dict[str, IndexedFile]:
        """Every source file the index holds; empty when rebuilding or when nothing is reusable."""

    def needs_write(self) -> bool:
        """True when the index must be written even though no file changed (e.g. its schema is outdated)."""
        return False

    @abstractmethod
    def write(self, batch: IngestBatch) -> bool:
        """Make the index hold exactly the batch's files; False when nothing needed writing."""


class IndexBackend(ABC):
    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def open_writer(self, rebuild: bool = False) -> IndexWriter: ...

    @abstractmethod
    def describe(self) -> list[str]: ...

    @abstractmethod
    def open_retriever(self, embedder: SentenceEmbedder) -> GuidanceRetriever: ...


def index_backend(settings: Settings, **options) -> IndexBackend:
    """The backend WAF_INDEX_BACKEND names (options go to its constructor, e.g. a test's Azure store)."""
    module_name, class_name = BACKENDS[settings.index_backend].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(settings, **options)
