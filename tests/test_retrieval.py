"""Hybrid retrieval on the real index: fusion beats each single retriever; filters and diversity hold."""
import pytest
from langchain_core.retrievers import BaseRetriever

from index.faiss.retriever import GuidanceIndex, HybridRetriever
from index.faiss.store import load_index

# (question, file that answers it): paraphrases favour dense search, codes and rare terms favour BM25.
QUESTIONS = [
    ("How do I keep my chatbot answering when a whole Azure geography goes down?", "inference-redundancy"),
    ("What stops users from tricking the model into ignoring its rules?", "content-safety"),
    ("How can we pay less for the machines that build our models?", "spot-training"),
    ("What does SE:07 ask for?", "se-07-encryption"),
    ("Retry-After header on 429", "transient-faults"),
    ("RTO and RPO for the grounding index", "index-recovery"),
    ("chargeback", "token-tracking"),
    ("Should I reserve capacity or pay per token for a steady chatbot load?", "ptu-vs-paygo"),
    ("The live inputs no longer look like what the model learned from", "drift"),
    ("canary release of a new model version", "safe-deployment"),
    ("same question asked again and again, how to answer faster", "semantic-cache"),
    ("which hardware for serving a model", "gpu-choice"),
    ("avoid sharing API keys between services", "managed-identity"),
    ("turn off public access to Azure OpenAI", "network-isolation"),
]


@pytest.fixture(scope="module")
def index(corpus_index, embedder) -> GuidanceIndex:
    return GuidanceIndex(load_index(corpus_index.index_dir), embedder)


def mean_reciprocal_rank(retriever: HybridRetriever) -> float:
    total = 0.0
    for question, expected in QUESTIONS:
        hits = retriever.search(question)
        rank = next((i + 1 for i, h in enumerate(hits) if expected in h.chunk.source_key), None)
        total += 1 / rank if rank else 0.0
    return total / len(QUESTIONS)


def test_hybrid_beats_dense_only_and_bm25_only(index):
    scores = {mode: mean_reciprocal_rank(HybridRetriever(index=index, mode=mode)) for mode in ("dense", "bm25", "hybrid")}
    assert scores["hybrid"] > scores["dense"], scores
    assert scores["hybrid"] > scores["bm25"], scores


def test_convex_fusion_ranks_at_least_as_well_as_reciprocal_rank_fusion(index):
    convex = mean_reciprocal_rank(HybridRetriever(index=index, fusion="convex"))
    rrf = mean_reciprocal_rank(HybridRetriever(index=index, fusion="rrf"))
    assert convex >= rrf, (convex, rrf)


@pytest.mark.parametrize("question", ["chargeback", "canary release of a new model version"])
def test_convex_fusion_weights_run_from_bm25_alone_to_dense_alone(index, question):
    """dense_weight 1 ranks the candidates by cosine similarity, 0 by BM25; every hit carries its similarity, also
    a passage only BM25 found."""
    def order(retriever):
        return [h.position for h in retriever.search(question, k=5)]

    assert order(HybridRetriever(index=index, dense_weight=1.0)) == order(HybridRetriever(index=index, mode="dense"))
    by_bm25 = order(HybridRetriever(index=index, mode="bm25"))  # only passages with a query term in them
    assert by_bm25 and order(HybridRetriever(index=index, dense_weight=0.0))[: len(by_bm25)] == by_bm25
    hits = HybridRetriever(index=index).search(question, k=10)
    assert all(h.dense_score is not None and 0.0 <= h.fused_score <= 1.0 for h in hits)
    assert [h.fused_score for h in hits] == sorted((h.fused_score for h in hits), reverse=True)


def test_pillar_filter_returns_only_that_pillar(index):
    hits = HybridRetriever(index=index).search("how to reduce the cost of running models", pillar="security")
    assert hits and all("security" in h.chunk.pillars for h in hits)


def test_top_k_is_not_one_section_repeated(index):
    hits = HybridRetriever(index=index, top_k=5).search("inference endpoint managed identity keys caching GPUs")
    sections = [(h.chunk.source_key, tuple(h.chunk.heading_path)) for h in hits]
    assert len(sections) == len(set(sections)) == 5


def test_is_a_langchain_retriever_with_citation_metadata(index):
    retriever = HybridRetriever(index=index, top_k=3)
    assert isinstance(retriever, BaseRetriever)
    documents = retriever.invoke("private endpoints for Azure OpenAI")
    assert len(documents) == 3
    top = documents[0].metadata
    assert top["url"].startswith("https://learn.microsoft.com/azure/well-architected/")
    assert {"title", "section", "pillars", "chunk_id", "dense_score", "fused_score"} <= set(top)
