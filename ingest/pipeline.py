"""The ingest job: discover -> load -> split -> embed -> index, re-embedding only files that changed."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ingest import __version__
from ingest.documents import Chunk
from ingest.embed import SentenceEmbedder
from ingest.load import SourceFile, UnreadableFile, discover, file_hash, load_file
from ingest.settings import Settings
from ingest.sentences import split_sentences
from ingest.split import chunk_document
from ingest.store import IndexProblem, SentenceVectors, StoredIndex, load_index, read_manifest, write_index

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
) -> IngestSummary:
    if settings.index_backend == "azure-search":  # imported only then: the azure SDK is an optional extra
        from ingest.azure_search import run_azure_ingest

        return run_azure_ingest(settings, paths, rebuild, embedder, show_progress)
    started = time.perf_counter()
    sources = collect_sources(paths or list(settings.corpus_paths))
    hashes = {s.key: file_hash(s.path) for s in sources}
    summary = IngestSummary(files=len(sources))
    previous = None if rebuild else _compatible_previous(settings)

    if previous is not None and _same_files(previous.manifest, hashes):
        summary.chunks = previous.manifest.get("chunk_count", 0)
        summary.reused_files = len(sources)
        summary.unchanged = True
        summary.index_path = str(settings.index_dir)
        summary.seconds = time.perf_counter() - started
        return summary

    embedder = embedder or SentenceEmbedder(
        settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
    )
    reusable = _reusable_chunks(previous, hashes) if previous else {}
    old_keys = set((previous.manifest.get("files") or {}) if previous else {})
    summary.removed_files = len(old_keys - set(hashes))

    max_tokens = settings.chunk_max_tokens or embedder.max_tokens
    max_tokens = min(max_tokens, embedder.max_tokens)
    kept_chunks: list[Chunk] = []
    kept_vectors: list[np.ndarray] = []
    kept_sentences: list[SentenceVectors] = []
    new_chunks: list[Chunk] = []
    files_meta: dict[str, dict] = {}
    for source in sources:
        key, digest = source.key, hashes[source.key]
        previous_entry = (previous.manifest.get("files") or {}).get(key, {}) if previous else {}
        if previous_entry.get("skipped") and previous_entry.get("hash") == digest:
            summary.skipped.append(previous_entry["skipped"])
            files_meta[key] = previous_entry
            continue
        if key in reusable:
            chunks, vectors, sentences = reusable[key]
            kept_chunks += chunks
            kept_vectors.append(vectors)
            if sentences is not None:
                kept_sentences.append(sentences)
            summary.reused_files += 1
        else:
            try:
                document = load_file(source, digest)
            except UnreadableFile as exc:
                _skip(summary, files_meta, source, digest, str(exc))
                continue
            if not document.sections:
                _skip(summary, files_meta, source, digest, f"{source.path}: no text")
                continue
            chunks = chunk_document(document, embedder.count_tokens, max_tokens, settings.chunk_overlap_tokens)
            new_chunks += chunks
            summary.embedded_files += 1
        files_meta[key] = {"hash": digest, "path": str(source.path), "chunks": len(chunks)}

    new_vectors = embedder.encode([c.embed_text for c in new_chunks], show_progress=show_progress)
    all_chunks = kept_chunks + new_chunks
    vectors = np.vstack([*kept_vectors, new_vectors]) if all_chunks else new_vectors
    sentences = None
    if settings.precompute_sentences:
        sentences = _join_sentences([*kept_sentences, _embed_sentences(new_chunks, embedder, show_progress)])
    manifest = {
        "tool_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "embedding_model": settings.embedding_model,
        "embedding_dimension": embedder.dimension,
        "chunking": {"max_tokens": max_tokens, "overlap_tokens": settings.chunk_overlap_tokens},
        "sentences": settings.precompute_sentences,
        "roots": [str(p) for p in (paths or settings.corpus_paths)],
        "files": files_meta,
    }
    written = write_index(settings.index_dir, all_chunks, vectors, manifest, sentences)
    summary.chunks = len(all_chunks)
    summary.embedded_chunks = len(new_chunks)
    summary.index_path = str(written)
    summary.seconds = time.perf_counter() - started
    return summary


def _skip(summary: IngestSummary, files_meta: dict, source: SourceFile, digest: str, reason: str) -> None:
    # Recorded in the manifest too, so an unchanged bad file does not force a re-ingest every run.
    log.warning("skipped %s", reason)
    summary.skipped.append(reason)
    files_meta[source.key] = {"hash": digest, "path": str(source.path), "chunks": 0, "skipped": reason}


def _compatible_previous(settings: Settings) -> StoredIndex | None:
    """The live index when it can donate chunks: same model and chunking; otherwise build from scratch."""
    try:
        manifest = read_manifest(settings.index_dir)
        if manifest is None or manifest.get("embedding_model") != settings.embedding_model:
            return None
        if manifest.get("chunking", {}).get("overlap_tokens") != settings.chunk_overlap_tokens:
            return None
        if settings.chunk_max_tokens and manifest["chunking"].get("max_tokens") != settings.chunk_max_tokens:
            return None
        if bool(manifest.get("sentences")) != settings.precompute_sentences:
            return None
        return load_index(settings.index_dir)
    except IndexProblem as exc:
        log.warning("previous index not reusable, rebuilding: %s", exc)
        return None


def _same_files(manifest: dict, hashes: dict[str, str]) -> bool:
    files = manifest.get("files") or {}
    return set(files) == set(hashes) and all(files[k]["hash"] == h for k, h in hashes.items())


def _reusable_chunks(
    previous: StoredIndex, hashes: dict[str, str]
) -> dict[str, tuple[list[Chunk], np.ndarray, SentenceVectors | None]]:
    vectors = previous.vectors_array()
    by_key: dict[str, list[int]] = {}
    for position, chunk in enumerate(previous.chunks):
        if hashes.get(chunk.source_key) == chunk.content_hash:
            by_key.setdefault(chunk.source_key, []).append(position)
    return {
        key: (
            [previous.chunks[i] for i in rows],
            vectors[rows],
            previous.sentences.for_rows(rows) if previous.sentences is not None else None,
        )
        for key, rows in by_key.items()
    }


def _embed_sentences(chunks: list[Chunk], embedder: SentenceEmbedder, show_progress: bool) -> SentenceVectors:
    """Precomputed so that answering a question is a matrix product, not a model pass over quotes."""
    per_chunk = [split_sentences(c.text) for c in chunks]
    flat = [sentence for sentences in per_chunk for sentence in sentences]
    vectors = embedder.encode(flat, show_progress=show_progress) if flat else np.zeros((0, embedder.dimension), np.float32)
    return SentenceVectors(vectors, np.array([len(s) for s in per_chunk], dtype=np.int64))


def _join_sentences(parts: list[SentenceVectors]) -> SentenceVectors:
    parts = [p for p in parts if len(p.counts)]
    if not parts:
        return SentenceVectors(np.zeros((0, 1), np.float32), np.zeros(0, np.int64))
    return SentenceVectors(np.vstack([p.vectors for p in parts]), np.concatenate([p.counts for p in parts]))
