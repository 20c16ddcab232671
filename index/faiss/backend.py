"""FAISS on disk (the embedded default): the writer the ingest job fills, `info`, and the hybrid retriever."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import faiss
import numpy as np

from core import __version__
from core.documents import CHUNKING_VERSION, Chunk, SentenceVectors
from core.embeddings import SentenceEmbedder
from index.backend import IndexBackend, IndexedFile, IndexWriter, IngestBatch
from index.errors import IndexMissing, IndexProblem
from index.faiss.retriever import GuidanceIndex, HybridRetriever
from index.faiss.store import StoredIndex, VectorIndexSpec, load_index, read_manifest, write_index

log = logging.getLogger("ingest")


class FaissWriter(IndexWriter):
    def __init__(self, settings, rebuild: bool):
        self.settings = settings
        self.label = str(settings.index_dir)
        self.keeps_sentence_vectors = settings.precompute_sentences
        self.spec = VectorIndexSpec.from_settings(settings)
        self.previous = None if rebuild else self._compatible_previous()

    def _compatible_previous(self) -> StoredIndex | None:
        """The live index when it can donate chunks: same model and chunking; otherwise build from scratch."""
        settings = self.settings
        try:
            manifest = read_manifest(settings.index_dir)
            if manifest is None or manifest.get("embedding_model") != settings.embedding_model:
                return None
            if manifest.get("chunking", {}).get("overlap_tokens") != settings.chunk_overlap_tokens:
                return None
            if manifest["chunking"].get("version", 1) != CHUNKING_VERSION:
                return None
            if settings.chunk_max_tokens and manifest["chunking"].get("max_tokens") != settings.chunk_max_tokens:
                return None
            if bool(manifest.get("sentences")) != settings.precompute_sentences:
                return None
            return load_index(settings.index_dir, spec=self.spec)
        except IndexProblem as exc:
            log.warning("previous index not reusable, rebuilding: %s", exc)
            return None

    def indexed_files(self) -> dict[str, IndexedFile]:
        if self.previous is None:
            return {}
        held = {c.source_key for c in self.previous.chunks}
        return {
            key: IndexedFile(
                entry["hash"], key in held, entry.get("chunks", 0), entry.get("skipped", "")
            )
            for key, entry in (self.previous.manifest.get("files") or {}).items()
        }

    def needs_write(self) -> bool:
        """A change of WAF_FAISS_INDEX_TYPE rewrites the vector index from the stored vectors (no re-embedding)."""
        return self.previous is not None and self.previous.manifest.get("vector_index", {"type": "flat"}) != self.spec.manifest()

    def write(self, batch: IngestBatch) -> bool:
        chunks, vectors, sentences = self._kept(batch)
        all_chunks = chunks + batch.new_chunks
        parts = [*vectors, batch.new_vectors] if len(batch.new_vectors) else vectors
        # The model is asked only when no vector tells the dimension: a rewrite from stored vectors never loads it.
        dimension = parts[0].shape[1] if parts else batch.embedder().dimension
        all_vectors = np.vstack(parts) if parts else np.zeros((0, dimension), np.float32)
        all_sentences = None
        if self.keeps_sentence_vectors:
            new = [batch.new_sentences] if batch.new_sentences is not None else []
            all_sentences = _join_sentences([*sentences, *new])
        manifest = {
            "tool_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedding_model": self.settings.embedding_model,
            "embedding_dimension": dimension,
            "chunking": {
                "max_tokens": self._max_tokens(batch),
                "overlap_tokens": self.settings.chunk_overlap_tokens,
                "version": CHUNKING_VERSION,
            },
            "sentences": self.settings.precompute_sentences,
            "roots": batch.roots,
            "files": batch.files,
        }
        self.label = str(write_index(
            self.settings.index_dir, all_chunks, all_vectors, manifest, all_sentences, self.spec
        ))
        return True

    def _max_tokens(self, batch: IngestBatch) -> int:
        """The chunk size: the previous index's when nothing new was chunked (it is compatible, so the same)."""
        if self.previous is not None and not batch.new_chunks:
            return int(self.previous.manifest["chunking"]["max_tokens"])
        return batch.max_tokens()

    def _kept(self, batch: IngestBatch) -> tuple[list[Chunk], list[np.ndarray], list[SentenceVectors]]:
        """The previous index's chunks of the kept files, file by file in source order."""
        if self.previous is None or not batch.kept:
            return [], [], []
        rows_by_key: dict[str, list[int]] = {}
        for position, chunk in enumerate(self.previous.chunks):
            if chunk.source_key in batch.kept:
                rows_by_key.setdefault(chunk.source_key, []).append(position)
        vectors = self.previous.vectors_array()
        chunks: list[Chunk] = []
        kept_vectors: list[np.ndarray] = []
        kept_sentences: list[SentenceVectors] = []
        for key in batch.files:
            rows = rows_by_key.get(key)
            if not rows:
                continue
            chunks += [self.previous.chunks[i] for i in rows]
            kept_vectors.append(vectors[rows])
            if self.previous.sentences is not None:
                kept_sentences.append(self.previous.sentences.for_rows(rows))
        return chunks, kept_vectors, kept_sentences


def _join_sentences(parts: list[SentenceVectors]) -> SentenceVectors:
    parts = [p for p in parts if len(p.counts)]
    if not parts:
        return SentenceVectors(np.zeros((0, 1), np.float32), np.zeros(0, np.int64))
    return SentenceVectors(np.vstack([p.vectors for p in parts]), np.concatenate([p.counts for p in parts]))


class FaissBackend(IndexBackend):
    def open_writer(self, rebuild: bool = False) -> FaissWriter:
        return FaissWriter(self.settings, rebuild)

    def describe(self) -> list[str]:
        index_dir = self.settings.index_dir
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexMissing(f"no index in {index_dir}. Build it with: waf-assistant ingest")
        files = manifest.get("files", {})
        skipped = sum(1 for f in files.values() if f.get("skipped"))
        return [
            f"index:            {index_dir} (version {manifest.get('version')})",
            f"created:          {manifest.get('created')}",
            f"embedding model:  {manifest.get('embedding_model')} ({manifest.get('embedding_dimension')} dims)",
            f"chunking:         {manifest.get('chunking')}",
            f"files:            {len(files)} ({skipped} skipped)",
            f"chunks:           {manifest.get('chunk_count')}",
            f"vector index:     {manifest.get('vector_index', {'type': 'flat'})}",
            f"sources:          {', '.join(manifest.get('roots', []))}",
            f"tool version:     {manifest.get('tool_version')}",
        ]

    def open_retriever(self, embedder: SentenceEmbedder) -> HybridRetriever:
        settings = self.settings
        if settings.faiss_search_threads:
            faiss.omp_set_num_threads(settings.faiss_search_threads)
        return HybridRetriever(
            index=GuidanceIndex(
                load_index(settings.index_dir, settings.embedding_model, VectorIndexSpec.from_settings(settings)), embedder
            ),
            fusion=settings.fusion,
            dense_weight=settings.fusion_dense_weight,
            rrf_k=settings.rrf_k,
            **HybridRetriever.options(settings),
        )
