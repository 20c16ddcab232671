"""One retriever contract, two backends: FAISS on disk and Azure AI Search (the real SDK against the local
REST service of tests/fake_azure_search.py), both built from the same fixture files. Whatever the chain, the
review and the evaluation rely on must hold for both."""
from __future__ import annotations

import pytest
from langchain_core.retrievers import BaseRetriever

from app.assistant import Assistant
from core.pillars import PILLAR_NAMES
from index.azure_search.backend import AzureSearchBackend
from index.azure_search.store import AzureSearchStore
from ingest.pipeline import run_ingest
from tests.conftest import FIXTURE_CORPUS, FIXTURE_DOCFX, make_settings
from tests.fake_azure_search import FakeAzureSearch
from tests.test_retrieval import QUESTIONS

OFFICIAL = "https://learn.microsoft.com/azure/well-architected/"
BACKENDS = ["faiss", "azure-search"]


@pytest.fixture(scope="module")
def azure_assistant(tmp_path_factory, embedder):
    server = FakeAzureSearch(api_key="contract-key").start()
    try:
        settings = make_settings(
            tmp_path_factory.mktemp("unused"), index_backend="azure-search", azure_search_endpoint=server.endpoint,
            azure_search_index="waf-contract", azure_search_api_key="contract-key",
        )
        store = AzureSearchStore(settings, sleep=lambda seconds: None)
        run_ingest(
            settings, paths=[FIXTURE_CORPUS, FIXTURE_DOCFX], embedder=embedder, show_progress=False,
            backend=AzureSearchBackend(settings, store=store),
        )
        yield Assistant.open(settings, embedder)
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request, assistant, azure_assistant) -> Assistant:
    return assistant if request.param == "faiss" else azure_assistant


def found_at(hits, expected: str) -> int | None:
    return next((i + 1 for i, h in enumerate(hits) if expected in h.chunk.source_key), None)


def test_every_question_gets_top_k_official_sections(backend):
    for question, _ in QUESTIONS:
        hits = backend.retriever.search(question)
        assert len(hits) == backend.settings.top_k == 5, question
        assert all(h.chunk.url.startswith(OFFICIAL) for h in hits), question
        assert all(h.chunk.text and h.chunk.title and h.chunk.pillars for h in hits), question


def test_the_guidance_that_answers_each_question_is_retrieved(backend):
    ranks = {q: found_at(backend.retriever.search(q), expected) for q, expected in QUESTIONS}
    assert sum(r is not None for r in ranks.values()) >= len(QUESTIONS) - 1, ranks
    assert sum(1 / r for r in ranks.values() if r) / len(QUESTIONS) >= 0.75, ranks


@pytest.mark.parametrize("pillar", sorted(PILLAR_NAMES))
def test_the_pillar_filter_is_honoured(backend, pillar):
    hits = backend.retriever.search("how to reduce the cost of running models safely and reliably", pillar=pillar)
    assert hits and all(pillar in h.chunk.pillars for h in hits)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_k_is_the_number_of_hits(backend, k):
    assert len(backend.retriever.search("inference endpoint managed identity keys caching GPUs", k=k)) == k


def test_the_top_k_is_not_one_section_repeated(backend):
    hits = backend.retriever.search("inference endpoint managed identity keys caching GPUs")
    sections = [(h.chunk.source_key, tuple(h.chunk.heading_path)) for h in hits]
    assert len(sections) == len(set(sections)) == 5


def test_scores_and_positions_have_the_meaning_the_answerers_rely_on(backend):
    question = "turn off public access to Azure OpenAI"
    vector = backend.index.embedder.encode([question])[0]
    hits = backend.retriever.search(question, query_vector=vector)
    assert all(isinstance(h.position, int) for h in hits)
    assert all(-1.0 <= h.dense_score <= 1.0 for h in hits if h.dense_score is not None)
    assert hits[0].dense_score is not None and hits[0].dense_score > backend.settings.relevance_threshold
    assert [h.fused_score for h in hits] == sorted((h.fused_score for h in hits), reverse=True)


def test_dense_scores_are_the_same_cosine_similarity_on_both_backends(assistant, azure_assistant):
    for question, _ in QUESTIONS:
        vector = assistant.index.embedder.encode([question])[0]
        faiss_scores = {h.chunk.chunk_id: h.dense_score for h in assistant.retriever.search(question, query_vector=vector)}
        azure_scores = {h.chunk.chunk_id: h.dense_score for h in azure_assistant.retriever.search(question, query_vector=vector)}
        shared = {i for i in set(faiss_scores) & set(azure_scores) if faiss_scores[i] is not None}
        assert shared, question
        for chunk_id in shared:
            assert azure_scores[chunk_id] == pytest.approx(faiss_scores[chunk_id], abs=1e-4)


def test_both_backends_hold_the_same_chunks(assistant, azure_assistant):
    assert {c.chunk_id for c in azure_assistant.index.chunks} == {c.chunk_id for c in assistant.index.chunks}
    faiss_chunks = {c.chunk_id: c for c in assistant.index.chunks}
    for chunk in azure_assistant.index.chunks:
        assert chunk == faiss_chunks[chunk.chunk_id]  # every field survives the round trip through the index


def test_it_is_a_langchain_retriever_with_the_same_metadata(assistant, azure_assistant):
    keys = []
    for backend in (assistant, azure_assistant):
        assert isinstance(backend.retriever, BaseRetriever)
        documents = backend.retriever.invoke("private endpoints for Azure OpenAI")
        assert len(documents) == backend.settings.top_k
        assert documents[0].metadata["url"].startswith(OFFICIAL)
        keys.append(set(documents[0].metadata))
    assert keys[0] == keys[1] >= {"title", "section", "pillars", "chunk_id", "url", "dense_score", "fused_score"}


def test_answers_quote_and_cite_on_both_backends_and_decline_alike(backend):
    for question, _expected in QUESTIONS[:6]:
        answer = backend.ask(question)
        assert not answer.refused, question
        assert answer.citations and all(c.url.startswith(OFFICIAL) for c in answer.citations), question
        assert "Sources\n[1]" in answer.display_text()
    declined = backend.ask("What is a good recipe for banana bread?")
    assert declined.refused and not declined.citations


def test_the_review_uses_either_backend_for_guidance_citations(backend):
    from app.review.service import Reviewer
    from tests.conftest import FIXTURES

    settings = backend.settings.model_copy(update={"checklist_path": FIXTURES / "checklist.yaml"})
    report = Reviewer.open(settings, backend.index.embedder, backend.retriever).review_file(FIXTURES / "design-rag.md")
    guidance = [c for f in report.findings for c in f.citations if c.section != "Review checklist source"]
    assert guidance and all(c.url.startswith(OFFICIAL) for c in guidance)
