"""Scaling benchmark (not a test): how the local index behaves at 1k, 10k and 100k chunks.

    python -m eval.bench_scale [--sizes 1000,10000,100000] [--queries 100] [--out eval/results/bench-scale.json]

The chunks are synthetic: the default index's own chunks (`make index`), copied with deterministic
perturbations (each copy's vector moved by seeded noise and renormalised; some of its words dropped), so no
text is embedded again and the figures are those of the index, not of the encoder. For each size it reports
build time and memory, and retrieval p50/p95 over the golden questions (query vectors encoded once) for:
dense exact (FAISS flat), dense approximate (FAISS HNSW, with its recall@10 against exact), BM25 with bm25s
(what the retriever uses) and rank-bm25 (what it used before), and hybrid through the real HybridRetriever.
Figures depend on the machine and its load: read the ratios of one run (hybrid p95 at 100k / at 1k; bm25s
against rank-bm25), not absolute times across runs.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import resource
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from core.documents import Chunk
from core.embeddings import SentenceEmbedder
from core.lexical import LexicalIndex
from core.offline import apply_offline_defaults
from core.settings import PROJECT_ROOT, get_settings
from core.text import bm25_tokens
from eval.bench import benchmark_questions, percentile
from index.faiss.retriever import GuidanceIndex, HybridRetriever
from index.faiss.store import StoredIndex, VectorIndexSpec, load_index

NOISE = 0.35  # per-dimension noise before renormalising: copies stay near their original (cosine ~0.7)
DROP = 0.15  # share of a copy's words dropped
RANK_BM25_MAX_QUERIES = 10  # rank-bm25 scores every chunk in Python: a few queries are enough to time it


def synthetic(chunks: list[Chunk], vectors: np.ndarray, size: int) -> tuple[list[Chunk], np.ndarray]:
    """`size` chunks: the originals, then perturbed copies, the same for every run."""
    out_chunks, out_vectors = [], np.empty((size, vectors.shape[1]), dtype=np.float32)
    for row in range(size):
        original, copy = row % len(chunks), row // len(chunks)
        chunk, vector = chunks[original], vectors[original]
        if copy:
            rng = np.random.default_rng(row)
            vector = vector + rng.normal(0, NOISE / np.sqrt(len(vector)), len(vector)).astype(np.float32)
            vector /= np.linalg.norm(vector)
            words = chunk.embed_text.split()
            kept = [w for i, w in enumerate(words) if _digest(f"{row}:{i}") >= DROP]
            text = " ".join(kept)
            chunk = replace(chunk, chunk_id=f"{chunk.chunk_id}~{copy}", text=text, embed_text=text)
        out_chunks.append(chunk)
        out_vectors[row] = vector
    return out_chunks, out_vectors


def _digest(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") / 2**32


def rss_mb() -> float:
    """Resident memory now (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def timed(action) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def latencies(run, inputs) -> dict[str, float]:
    times = []
    for value in inputs:
        started = time.perf_counter()
        run(value)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2), "queries": len(times)}


def measure_size(
    size: int, chunks: list[Chunk], vectors: np.ndarray, questions: list[str], query_vectors: np.ndarray,
    embedder: SentenceEmbedder, spec: VectorIndexSpec,
) -> dict:
    chunk_list, matrix = synthetic(chunks, vectors, size)
    result: dict = {"chunks": size}
    pairs = list(zip(questions, query_vectors))

    gc.collect()
    before = rss_mb()
    flat, seconds = timed(lambda: VectorIndexSpec("flat").build(matrix, matrix.shape[1]))
    result["flat"] = {"build_s": round(seconds, 3), "memory_mb": round(rss_mb() - before, 1)}
    before = rss_mb()
    hnsw, seconds = timed(lambda: spec.build(matrix, matrix.shape[1]))
    result["hnsw"] = {"build_s": round(seconds, 3), "memory_mb": round(rss_mb() - before, 1), "m": spec.hnsw_m,
                      "ef_search": spec.hnsw_ef_search}
    exact = flat.search(query_vectors, 10)[1]
    approximate = hnsw.search(query_vectors, 10)[1]
    result["hnsw"]["recall@10"] = round(
        float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact)])), 4
    )
    result["flat"].update(latencies(lambda v: flat.search(v[None, :], 40), query_vectors))
    result["hnsw"].update(latencies(lambda v: hnsw.search(v[None, :], 40), query_vectors))

    before = rss_mb()
    lexical, seconds = timed(lambda: LexicalIndex([c.embed_text for c in chunk_list]))
    result["bm25s"] = {"build_s": round(seconds, 3), "memory_mb": round(rss_mb() - before, 1)}
    result["bm25s"].update(latencies(lambda q: lexical.top(q, 40), questions))
    result["rank_bm25"] = rank_bm25_figures(chunk_list, questions[:RANK_BM25_MAX_QUERIES], lexical)

    for name, index in (("hybrid_flat", flat), ("hybrid_hnsw", hnsw)):
        stored = StoredIndex({"embedding_model": "bench"}, chunk_list, index, Path("."))
        retriever = HybridRetriever(index=GuidanceIndex(stored, embedder), top_k=5, candidate_k=40)
        result[name] = latencies(lambda pair, r=retriever: r.search(pair[0], query_vector=pair[1]), pairs)
    return result


def rank_bm25_figures(chunk_list: list[Chunk], questions: list[str], lexical: LexicalIndex) -> dict:
    """rank-bm25 (the retriever's former BM25) on the same chunks: time, and how far its top 10 agrees."""
    from rank_bm25 import BM25Okapi

    okapi, seconds = timed(lambda: BM25Okapi([bm25_tokens(c.embed_text) or [""] for c in chunk_list]))
    figures = {"build_s": round(seconds, 3)}

    def top(question: str) -> list[int]:
        scores = okapi.get_scores(bm25_tokens(question))
        return [int(i) for i in np.argsort(-scores)[:10] if scores[i] > 0]

    figures.update(latencies(top, questions))
    overlaps = [len(set(top(q)) & set(lexical.top(q, 10))) / 10 for q in questions]
    figures["top10_overlap_with_bm25s"] = round(float(np.mean(overlaps)), 3)
    return figures


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "eval" / "results" / "bench-scale.json")
    args = parser.parse_args(argv)
    settings = get_settings()
    if settings.faiss_search_threads:
        faiss.omp_set_num_threads(settings.faiss_search_threads)  # as the retriever does
    stored = load_index(settings.index_dir, settings.embedding_model)
    vectors = stored.vectors_array()
    embedder = SentenceEmbedder.from_settings(settings)
    questions = list(dict.fromkeys(benchmark_questions(args.queries)))
    query_vectors, encode_seconds = timed(lambda: embedder.encode(questions))
    spec = replace(VectorIndexSpec.from_settings(settings), type="hnsw")
    sizes = [int(s) for s in args.sizes.split(",")]
    report = {
        "machine": f"{platform.machine()}, {faiss.omp_get_max_threads()} FAISS threads, Python {platform.python_version()}",
        "base_chunks": len(stored.chunks),
        "queries": len(questions),
        "query_encode_ms_each": round(encode_seconds * 1000 / max(1, len(questions)), 2),
        "sizes": [],
    }
    for size in sizes:
        figures = measure_size(size, stored.chunks, vectors, questions, query_vectors, embedder, spec)
        report["sizes"].append(figures)
        print(summary_line(figures), flush=True)
    first, last = report["sizes"][0], report["sizes"][-1]
    report["ratios"] = {
        f"hybrid_p95_{last['chunks']}_over_{first['chunks']}": round(
            last["hybrid_flat"]["p95_ms"] / max(first["hybrid_flat"]["p95_ms"], 1e-6), 2
        ),
        f"rank_bm25_p95_over_bm25s_p95_at_{last['chunks']}": round(
            last["rank_bm25"]["p95_ms"] / max(last["bm25s"]["p95_ms"], 1e-6), 1
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["ratios"], indent=2))
    print(f"written to {args.out}")
    return 0


def summary_line(f: dict) -> str:
    return (
        f"{f['chunks']:>7} chunks | hybrid p95 {f['hybrid_flat']['p95_ms']} ms (hnsw {f['hybrid_hnsw']['p95_ms']}) | "
        f"dense flat p95 {f['flat']['p95_ms']} ms, hnsw {f['hnsw']['p95_ms']} ms, recall@10 {f['hnsw']['recall@10']} | "
        f"bm25s p95 {f['bm25s']['p95_ms']} ms, rank-bm25 {f['rank_bm25']['p95_ms']} ms"
    )


if __name__ == "__main__":
    raise SystemExit(main())
