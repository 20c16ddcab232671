"""The on-disk FAISS index: versions written beside the live one, swapped in by an atomic rename. No pickle.

    <index_dir>/CURRENT                   name of the live version (replaced atomically)
    <index_dir>/versions/<v>/manifest.json
    <index_dir>/versions/<v>/chunks.jsonl one Chunk per line, in vector order
    <index_dir>/versions/<v>/vectors.faiss faiss.write_index of an inner-product index of normalized vectors:
                                          exact (flat) by default, or HNSW (approximate) for large indexes
    <index_dir>/versions/<v>/sentence_vectors.npy, sentence_counts.npy
                                          vectors of each chunk's quotable sentences, in chunk order
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from core.documents import Chunk, SentenceVectors
from index.errors import IndexCorrupt, IndexMissing, ModelMismatch

FORMAT_VERSION = 1
_KEEP_VERSIONS = 2
VectorIndexType = Literal["flat", "hnsw"]


@dataclass(frozen=True)
class VectorIndexSpec:
    """Which FAISS index holds the vectors. flat: exact inner product, the default; hnsw: a graph index whose
    search time grows slowly with size, at a small loss of recall (measured by `make bench-scale`)."""

    type: VectorIndexType = "flat"
    hnsw_m: int = 32  # graph links per vector: memory and build time against recall
    hnsw_ef_search: int = 128  # candidates searched per query: latency against recall

    @classmethod
    def from_settings(cls, settings) -> VectorIndexSpec:
        return cls(settings.faiss_index_type, settings.faiss_hnsw_m, settings.faiss_hnsw_ef_search)

    def manifest(self) -> dict:
        return {"type": "flat"} if self.type == "flat" else {"type": "hnsw", "m": self.hnsw_m}

    def build(self, vectors: np.ndarray, dimension: int) -> faiss.Index:
        if self.type == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = max(40, 2 * self.hnsw_m)
        else:
            index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.tune(index)
        return index

    def tune(self, index: faiss.Index) -> None:
        """Search-time parameters are not stored in the file: set them on every load."""
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = self.hnsw_ef_search


@dataclass
class StoredIndex:
    manifest: dict
    chunks: list[Chunk]
    vectors: faiss.Index
    path: Path
    sentences: SentenceVectors | None = None

    def vectors_array(self) -> np.ndarray:
        if self.vectors.ntotal == 0:
            return np.zeros((0, self.vectors.d), dtype=np.float32)
        return self.vectors.reconstruct_n(0, self.vectors.ntotal)


def current_version_dir(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    version = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / "versions" / version
    return path if version and path.is_dir() else None


def read_manifest(index_dir: Path) -> dict | None:
    version = current_version_dir(index_dir)
    if version is None:
        return None
    try:
        return json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"index manifest unreadable in {version}: {exc}") from exc


def check_model(manifest: dict, embedding_model: str, index_dir: Path) -> None:
    if manifest.get("embedding_model") != embedding_model:
        raise ModelMismatch(
            f"the index in {index_dir} was built with embedding model {manifest.get('embedding_model')!r}, "
            f"but WAF_EMBEDDING_MODEL is {embedding_model!r}. Rebuild it: waf-assistant ingest --rebuild"
        )


def load_index(
    index_dir: Path, embedding_model: str | None = None, spec: VectorIndexSpec | None = None
) -> StoredIndex:
    version = current_version_dir(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}. Build it with: waf-assistant ingest")
    manifest = read_manifest(index_dir) or {}
    if embedding_model is not None:
        check_model(manifest, embedding_model, index_dir)
    try:
        with (version / "chunks.jsonl").open(encoding="utf-8") as handle:
            chunks = [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]
        vectors = faiss.read_index(str(version / "vectors.faiss"))
        (spec or VectorIndexSpec()).tune(vectors)
    except Exception as exc:  # a damaged file must become a clear message, not a traceback
        raise IndexCorrupt(f"index files unreadable in {version}: {exc}. Rebuild: waf-assistant ingest --rebuild") from exc
    if vectors.ntotal != len(chunks):
        raise IndexCorrupt(f"index in {version} has {vectors.ntotal} vectors for {len(chunks)} chunks")
    return StoredIndex(manifest, chunks, vectors, version, _load_sentences(version, len(chunks)))


def _load_sentences(version: Path, chunk_count: int) -> SentenceVectors | None:
    if not (version / "sentence_vectors.npy").is_file():
        return None
    try:
        sentences = SentenceVectors(
            np.load(version / "sentence_vectors.npy", allow_pickle=False),
            np.load(version / "sentence_counts.npy", allow_pickle=False),
        )
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"sentence vectors unreadable in {version}: {exc}") from exc
    if len(sentences.counts) != chunk_count or sentences.offsets[-1] != len(sentences.vectors):
        raise IndexCorrupt(f"sentence vectors in {version} do not match its {chunk_count} chunks")
    return sentences


def write_index(
    index_dir: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    manifest: dict,
    sentences: SentenceVectors | None = None,
    spec: VectorIndexSpec | None = None,
) -> Path:
    """Write a new version beside the live one, then point CURRENT at it with one atomic rename."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    staging = versions / f".{name}.partial"
    staging.mkdir()
    try:
        spec = spec or VectorIndexSpec()
        index = spec.build(vectors, int(manifest["embedding_dimension"]))
        faiss.write_index(index, str(staging / "vectors.faiss"))
        if sentences is not None:
            np.save(staging / "sentence_vectors.npy", sentences.vectors, allow_pickle=False)
            np.save(staging / "sentence_counts.npy", sentences.counts.astype(np.int32), allow_pickle=False)
        with (staging / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        full_manifest = {
            **manifest, "format": FORMAT_VERSION, "version": name, "chunk_count": len(chunks),
            "vector_index": spec.manifest(),
        }
        (staging / "manifest.json").write_text(json.dumps(full_manifest, indent=2), encoding="utf-8")
        _fsync_dir(staging)
        final = versions / name
        os.rename(staging, final)
        pointer_tmp = index_dir / f".CURRENT.{name}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer_tmp, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(versions, keep=name)
    return final


def _prune(versions: Path, keep: str) -> None:
    """Drop leftovers of crashed builds and all but the newest few complete versions."""
    complete = sorted((p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
    stale = [p for p in complete[_KEEP_VERSIONS:] if p.name != keep]
    stale += [p for p in versions.iterdir() if p.name.startswith(".") and _older_than(p, 3600)]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def _older_than(path: Path, seconds: float) -> bool:
    return time.time() - path.stat().st_mtime > seconds


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
