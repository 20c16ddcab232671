"""The ingest job: discover -> load -> split -> embed -> index, re-embedding only files that changed.

One loop for every index backend: the backend's writer says which files it already holds (index.backend),
this job loads, chunks and embeds the others, and the writer stores the result.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.documents import Chunk, SentenceVectors
from core.embeddings import SentenceEmbedder, resolve_model_path
from core.onnx_encoder import needs_export
from core.settings import Settings
from core.text import split_sentences
from index.backend import IndexBackend, IngestBatch, index_backend
from ingest.load import SourceFile, UnreadableFile, discover, file_hash, load_file
from ingest.split import chunk_document

log = logging.getLogger("ingest")


class IngestInputError(Exception):
    """Bad input for the whole job (missing or empty path): exit code 2."""


@dataclass
class IngestSummary:
    files: int = 0
    chunks: int = 0
    embedded_files: int = 0
    embedded_chunks: int = 0
    reused_files: int = 0
    removed_files: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False
    index_path: str = ""

    def lines(self) -> list[str]:
        state = "index unchanged" if self.unchanged else f"index written to {self.index_path}"
        lines = [
            f"files: {self.files} ({self.embedded_files} embedded, {self.reused_files} unchanged, "
            f"{self.removed_files} removed)",
            f"chunks: {self.chunks} ({self.embedded_chunks} embedded)",
            f"skipped: {len(self.skipped)}",
            f"seconds: {self.seconds:.1f}",
            state,
        ]
        return lines + [f"  skipped {reason}" for reason in self.skipped]


def collect_sources(paths: list[Path]) -> list[SourceFile]:
    sources: list[SourceFile] = []
    for path in paths:
        if not path.exists():
            raise IngestInputError(f"path not found: {path}")
        found = list(discover(path))
        if not found:
            raise IngestInputError(f"no supported files (.md .txt .pdf .docx) in {path}")
        sources.extend(found)
    keys = [s.key for s in sources]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise IngestInputError(f"two inputs give the same file key (rename a folder): {duplicates[0]}")
    return sources


def run_ingest(
    settings: Settings,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    embedder: SentenceEmbedder | None = None,
    show_progress: bool = True,
    backend: IndexBackend | None = None,
) -> IngestSummary:
    started = time.perf_counter()
    backend = backend or index_backend(settings)
    roots = paths or settings.guidance_paths()
    sources = collect_sources(roots)
    hashes = {s.key: file_hash(s.path) for s in sources}
    writer = backend.open_writer(rebuild)
    indexed = writer.indexed_files()
    summary = IngestSummary(files=len(sources), index_path=writer.label)
    summary.removed_files = len(set(indexed) - set(hashes))

    model: SentenceEmbedder | None = embedder

    model_used = False

    def loaded_model() -> SentenceEmbedder:  # loaded only when a file needs chunking or the writer asks
        nonlocal model, model_used
        model_used = True
        if model is None:
            model = SentenceEmbedder.from_settings(settings)
        return model

    def max_tokens() -> int:
        return min(settings.chunk_max_tokens or loaded_model().max_tokens, loaded_model().max_tokens)

    files: dict[str, dict] = {}
    kept: set[str] = set()
    new_chunks: list[Chunk] = []
    fresh_skips = 0
    for source in sources:
        key, digest = source.key, hashes[source.key]
        previous = indexed.get(key)
        if previous is not None and previous.digest == digest and previous.skipped:
            summary.skipped.append(previous.skipped)
            files[key] = {"hash": digest, "path": str(source.path), "chunks": 0, "skipped": previous.skipped}
            continue
        if previous is not None and previous.digest == digest and previous.reusable:
            kept.add(key)
            summary.reused_files += 1
            summary.chunks += previous.chunks
            files[key] = {"hash": digest, "path": str(source.path), "chunks": previous.chunks}
            continue
        try:
            document = load_file(source, digest)
            if not document.sections:
                raise UnreadableFile(f"{source.path}: no text")
        except UnreadableFile as exc:
            # Recorded with its hash, so an unchanged bad file does not force a re-ingest every run.
            log.warning("skipped %s", exc)
            summary.skipped.append(str(exc))
            files[key] = {"hash": digest, "path": str(source.path), "chunks": 0, "skipped": str(exc)}
            fresh_skips += 1
            continue
        chunks = _unique(chunk_document(document, loaded_model().count_tokens, max_tokens(), settings.chunk_overlap_tokens))
        new_chunks += chunks
        summary.embedded_files += 1
        files[key] = {"hash": digest, "path": str(source.path), "chunks": len(chunks)}

    # Before encoding: the export is what the model encodes with from here on (same vectors, 1.6x faster).
    _export_encoder(settings, model_used, loaded_model)
    if not new_chunks and not fresh_skips and not summary.removed_files and not writer.needs_write():
        summary.unchanged = True
        summary.seconds = time.perf_counter() - started
        return summary

    vectors = np.zeros((0, 1), np.float32)
    sentences = None
    if new_chunks:
        vectors = loaded_model().encode([c.embed_text for c in new_chunks], show_progress=show_progress)
    if writer.keeps_sentence_vectors and new_chunks:
        sentences = _embed_sentences(new_chunks, loaded_model(), show_progress)
    batch = IngestBatch(files, kept, new_chunks, vectors, sentences, loaded_model, max_tokens, [str(p) for p in roots])
    summary.unchanged = not writer.write(batch)
    summary.chunks += len(new_chunks)
    summary.embedded_chunks = len(new_chunks)
    summary.index_path = writer.label
    summary.seconds = time.perf_counter() - started
    return summary


def _export_encoder(settings: Settings, model_used: bool, loaded_model) -> None:
    """Leaves an ONNX export of the model for processes that only encode questions (a cold `ask` without torch),
    and for this run's own encoding. A no-op ingest loads nothing unless the export is missing (then once: the
    model load costs a few seconds)."""
    if settings.embedding_runtime == "torch":
        return
    if not model_used and not needs_export(resolve_model_path(settings.embedding_model), settings.encoder_cache_dir):
        return
    try:
        loaded_model().export_onnx(settings.encoder_cache_dir)
    except Exception as exc:  # without the export, chunks and questions are encoded with torch
        log.warning("could not export the embedding model to ONNX (%s: %s)", type(exc).__name__, exc)


def _unique(chunks: list[Chunk]) -> list[Chunk]:
    """One chunk per id: a section that repeats a passage word for word gives its chunk once."""
    return list({c.chunk_id: c for c in chunks}.values())


def _embed_sentences(chunks: list[Chunk], embedder: SentenceEmbedder, show_progress: bool) -> SentenceVectors:
    """Precomputed so that answering a question is a matrix product, not a model pass over quotes."""
    per_chunk = [split_sentences(c.text) for c in chunks]
    flat = [sentence for sentences in per_chunk for sentence in sentences]
    # A sentence in the overlap of two chunks, or repeated across pages, is encoded once (7% of the official docs).
    unique = list(dict.fromkeys(flat))
    if not unique:
        return SentenceVectors(np.zeros((0, embedder.dimension), np.float32), np.zeros(len(chunks), dtype=np.int64))
    encoded = embedder.encode(unique, show_progress=show_progress)
    position = {sentence: i for i, sentence in enumerate(unique)}
    vectors = encoded[[position[sentence] for sentence in flat]]
    return SentenceVectors(vectors, np.array([len(s) for s in per_chunk], dtype=np.int64))
