"""Retrieval that stays fast as the index grows: BM25 on a sparse matrix (bm25s) and an optional approximate
FAISS index (HNSW). Real files, the real model, real FAISS; speed itself is measured by `make bench-scale`."""
import numpy as np

from core.lexical import LexicalIndex
from eval.bench_scale import synthetic
from index.faiss.retriever import GuidanceIndex, HybridRetriever
from index.faiss.store import VectorIndexSpec, load_index, read_manifest
from ingest.pipeline import run_ingest
from tests.conftest import make_settings


def test_bm25_ranks_the_chunk_with_the_rare_terms_first_and_honours_a_mask():
    lexical = LexicalIndex([
        "Retry on HTTP 429 with exponential backoff.",
        "Store secrets in Key Vault and rotate them.",
        "Rotate keys; retry later.",
        "",
    ])
    assert lexical.top("rotate key vault", 3) == [1, 2]
    assert lexical.top("rotate key vault", 3, mask=np.array([False, False, True, True])) == [2]
    assert lexical.top("quantum entanglement", 3) == []  # no shared term: nothing, not arbitrary chunks
    assert LexicalIndex([]).top("anything", 3) == []


def test_bm25_agrees_with_rank_bm25_on_the_corpus(corpus_index):
    """The BM25 that replaced rank-bm25 ranks the fixture corpus' best chunk the same for most questions."""
    from rank_bm25 import BM25Okapi

    from core.text import bm25_tokens

    chunks = load_index(corpus_index.index_dir).chunks
    lexical = LexicalIndex([c.embed_text for c in chunks])
    okapi = BM25Okapi([bm25_tokens(c.embed_text) for c in chunks])
    questions = [
        "How do I handle throttling from Azure OpenAI?", "Should I use provisioned throughput or pay as you go?",
        "How do I detect model drift?", "How do I filter harmful content?", "How do I protect the inference endpoint?",
    ]
    same = sum(lexical.top(q, 1) == [int(np.argmax(okapi.get_scores(bm25_tokens(q))))] for q in questions)
    assert same >= 4


def test_hnsw_index_is_written_read_and_finds_what_exact_search_finds(tmp_path, corpus_copy, embedder):
    flat_settings = make_settings(tmp_path / "flat")
    run_ingest(flat_settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    hnsw_settings = make_settings(tmp_path / "hnsw", faiss_index_type="hnsw", faiss_hnsw_ef_search=64)
    run_ingest(hnsw_settings, paths=[corpus_copy], embedder=embedder, show_progress=False)

    assert read_manifest(hnsw_settings.index_dir)["vector_index"] == {"type": "hnsw", "m": 32}
    stored = load_index(hnsw_settings.index_dir, spec=VectorIndexSpec.from_settings(hnsw_settings))
    assert stored.vectors.hnsw.efSearch == 64  # search-time setting applied on load
    flat = HybridRetriever(index=GuidanceIndex(load_index(flat_settings.index_dir), embedder))
    approximate = HybridRetriever(index=GuidanceIndex(stored, embedder))
    for question in ("How do I handle 429 throttling?", "How should I rotate API keys?", "How do I monitor drift?"):
        assert [h.chunk.chunk_id for h in approximate.search(question)] == [h.chunk.chunk_id for h in flat.search(question)]


def test_changing_the_index_type_rewrites_the_index_without_embedding_again(tmp_path, corpus_copy, embedder):
    settings = make_settings(tmp_path / "index")
    first = run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    assert read_manifest(settings.index_dir)["vector_index"] == {"type": "flat"}

    class NoEmbedding:
        def __getattr__(self, name):
            raise AssertionError("switching the vector index must reuse the stored vectors")

    switched = make_settings(tmp_path / "index", faiss_index_type="hnsw")
    summary = run_ingest(switched, paths=[corpus_copy], embedder=NoEmbedding(), show_progress=False)
    assert not summary.unchanged and summary.embedded_chunks == 0 and summary.chunks == first.chunks
    assert read_manifest(settings.index_dir)["vector_index"]["type"] == "hnsw"
    again = run_ingest(switched, paths=[corpus_copy], embedder=NoEmbedding(), show_progress=False)
    assert again.unchanged


def test_synthetic_chunks_for_the_scale_benchmark_are_deterministic_and_distinct(corpus_index):
    stored = load_index(corpus_index.index_dir)
    vectors = stored.vectors_array()
    size = 3 * len(stored.chunks) + 5
    chunks, matrix = synthetic(stored.chunks, vectors, size)
    again_chunks, again = synthetic(stored.chunks, vectors, size)
    assert len(chunks) == size and np.array_equal(matrix, again)
    assert [c.text for c in chunks] == [c.text for c in again_chunks]
    assert len({c.chunk_id for c in chunks}) == size
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    copy = len(stored.chunks)  # the first copy of chunk 0: near it, not equal to it
    assert 0.5 < float(matrix[0] @ matrix[copy]) < 0.99
    assert chunks[copy].text != chunks[0].text and set(chunks[copy].text.split()) <= set(chunks[0].embed_text.split())
