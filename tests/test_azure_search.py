"""The Azure AI Search backend with the real azure-search-documents SDK against a local REST service
(tests/fake_azure_search.py): schema, incremental ingest, deletes, throttling, auth, errors, the CLI.
Nothing here talks to Azure; retries are checked by counting requests and recorded waits, never the clock."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.assistant import Assistant
from index.azure_search.backend import AzureSearchBackend
from index.azure_search.retriever import AzureSearchIndex, text_query
from index.azure_search.store import (
    VECTOR_FIELD,
    AzureSearchConfigError,
    AzureSearchError,
    AzureSearchStore,
)
from index.errors import IndexMissing, ModelMismatch
from ingest.pipeline import run_ingest
from tests.conftest import FIXTURE_CORPUS, make_settings
from tests.fake_azure_search import FakeAzureSearch, self_signed_context

pytestmark = pytest.mark.azure

KEY = "test-admin-key"
INDEX = "waf-test"
CLI = [str(Path(sys.executable).with_name("waf-assistant"))]


@pytest.fixture
def fake_search():
    server = FakeAzureSearch(api_key=KEY).start()
    yield server
    server.stop()


def azure_settings(server: FakeAzureSearch, tmp_path: Path, **overrides):
    values = dict(
        index_backend="azure-search", azure_search_endpoint=server.endpoint, azure_search_index=INDEX,
        azure_search_api_key=KEY, azure_search_retry_base_seconds=0.5,
    )
    return make_settings(tmp_path / "unused-faiss-dir", **{**values, **overrides})


class Waits(list):
    """A sleep that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ingest(settings, corpus, embedder, waits=None, **kw):
    store = AzureSearchStore(settings, sleep=waits if waits is not None else Waits())
    backend = AzureSearchBackend(settings, store=store)
    return run_ingest(settings, paths=[corpus], embedder=embedder, show_progress=False, backend=backend, **kw)


# -- schema and request shapes ----------------------------------------------------------------------------

def test_ingest_creates_the_index_schema_with_a_vector_field_sized_by_the_model(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    summary = ingest(settings, corpus_copy, embedder)
    assert summary.embedded_chunks == summary.chunks == len(fake_search.documents(INDEX)) >= 14

    put = fake_search.calls("index")[0]
    assert put["method"] == "PUT" and put["path"] == f"/indexes('{INDEX}')" and put["params"]["api-version"]
    assert put["headers"]["api-key"] == KEY and "Authorization" not in put["headers"]
    fields = {f["name"]: f for f in put["body"]["fields"]}
    assert fields["id"]["key"] and fields["id"]["type"] == "Edm.String"
    assert fields["pillars"]["type"] == "Collection(Edm.String)" and fields["pillars"]["filterable"]
    assert fields["content"]["searchable"] and fields["title"]["searchable"] and fields["heading_path"]["searchable"]
    for name in ("url", "topics", "source_key", "content_hash"):
        assert name in fields
    vector = fields[VECTOR_FIELD]
    assert vector["type"] == "Collection(Edm.Single)" and vector["dimensions"] == embedder.dimension == 384
    profile = next(p for p in put["body"]["vectorSearch"]["profiles"] if p["name"] == vector["vectorSearchProfile"])
    algorithm = next(a for a in put["body"]["vectorSearch"]["algorithms"] if a["name"] == profile["algorithm"])
    assert algorithm["kind"] == "hnsw" and algorithm["hnswParameters"]["metric"] == "cosine"
    assert "semantic" not in put["body"] or not put["body"]["semantic"]

    upload = fake_search.calls("documents")[0]
    assert upload["path"] == f"/indexes('{INDEX}')/docs/search.index"
    assert {a["@search.action"] for a in upload["body"]["value"]} == {"mergeOrUpload"}
    document = next(iter(fake_search.documents(INDEX).values()))
    assert len(document["id"]) == 24 and document["url"].startswith("https://learn.microsoft.com/")
    assert document["embedding_model"] == settings.embedding_model and len(document[VECTOR_FIELD]) == 384


def test_uploads_go_in_batches_of_the_configured_size(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path, azure_search_batch_size=4)
    summary = ingest(settings, corpus_copy, embedder)
    sizes = [len(c["body"]["value"]) for c in fake_search.calls("documents")]
    assert sum(sizes) == summary.chunks and max(sizes) == 4 and len(sizes) == -(-summary.chunks // 4)


# -- incremental ingest ---------------------------------------------------------------------------------------

def test_an_unchanged_reingest_embeds_and_uploads_nothing(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    first = ingest(settings, corpus_copy, embedder)

    class NoEmbedding:
        def __getattr__(self, name):
            raise AssertionError("an unchanged re-ingest must not touch the model")

    before = len(fake_search.calls("documents"))
    second = ingest(settings, corpus_copy, NoEmbedding())
    assert second.unchanged and second.embedded_chunks == 0 and second.chunks == first.chunks
    assert second.reused_files == second.files
    assert len(fake_search.calls("documents")) == before  # no upload, no delete


def test_a_changed_file_loses_its_old_chunks_and_a_removed_file_all_of_its_chunks(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    docs = fake_search.documents(INDEX)
    old_ptu = {k for k, d in docs.items() if d["source_key"].endswith("ptu-vs-paygo.md")}
    old_drift = {k for k, d in docs.items() if d["source_key"].endswith("drift.md")}
    assert old_ptu and old_drift
    changed = corpus_copy / "cost" / "ptu-vs-paygo.md"
    changed.write_text(changed.read_text().replace("PTU deployments suit", "Reserved PTU capacity suits"))
    (corpus_copy / "operations" / "drift.md").unlink()
    calls_before = len(fake_search.requests)

    summary = ingest(settings, corpus_copy, embedder)
    assert (summary.embedded_files, summary.removed_files, summary.reused_files) == (1, 1, summary.files - 1)
    docs = fake_search.documents(INDEX)
    texts = " ".join(d["content"] for d in docs.values())
    assert "Reserved PTU capacity suits" in texts and "PTU deployments suit" not in texts
    assert not any(d["source_key"].endswith("drift.md") for d in docs.values())
    assert not (old_drift & set(docs)) and summary.chunks == len(docs)
    new_ptu = {k for k, d in docs.items() if d["source_key"].endswith("ptu-vs-paygo.md")}
    from ingest.load import file_hash

    assert {docs[k]["content_hash"] for k in new_ptu} == {file_hash(changed)}

    # new chunks are uploaded first, then the stale ones deleted (never a moment without the changed file)
    writes = [r for r in fake_search.requests[calls_before:] if r["operation"] == "documents"]
    actions = [{a["@search.action"] for a in w["body"]["value"]} for w in writes]
    assert actions == [{"mergeOrUpload"}, {"delete"}]
    deleted = {a["id"] for a in writes[1]["body"]["value"]}
    assert old_drift <= deleted and (old_ptu - new_ptu) <= deleted and not (deleted & new_ptu)
    assert {a["id"] for a in writes[0]["body"]["value"]} == new_ptu


def test_rebuild_deletes_and_recreates_the_index(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    fake_search.documents(INDEX)["stray"] = {"id": "stray", "source_key": "elsewhere"}
    summary = ingest(settings, corpus_copy, embedder, rebuild=True)
    assert fake_search.calls("delete_index") and summary.embedded_chunks == summary.chunks
    assert "stray" not in fake_search.documents(INDEX)


def test_the_semantic_configuration_is_added_to_an_existing_index_and_used_by_queries(fake_search, tmp_path, corpus_copy, embedder):
    ingest(azure_settings(fake_search, tmp_path), corpus_copy, embedder)
    settings = azure_settings(fake_search, tmp_path, azure_search_semantic_config="waf-semantic")
    summary = ingest(settings, corpus_copy, embedder)
    assert summary.unchanged  # schema updated in place, nothing re-embedded
    semantic = fake_search.calls("index")[-1]["body"]["semantic"]
    configuration = semantic["configurations"][0]
    assert configuration["name"] == "waf-semantic"
    assert configuration["prioritizedFields"]["titleField"]["fieldName"] == "title"

    assistant = Assistant.open(settings, embedder)
    hits = assistant.retriever.search("private endpoints for Azure OpenAI")
    request = fake_search.calls("search")[-1]["body"]
    assert request["queryType"] == "semantic" and request["semanticConfiguration"] == "waf-semantic"
    assert hits and [h.fused_score for h in hits] == sorted((h.fused_score for h in hits), reverse=True)
    assert 0 <= hits[0].fused_score <= 4  # the reranker's scale


# -- throttling and failures ----------------------------------------------------------------------------------

def test_an_upload_throttled_with_429_waits_the_retry_after_then_succeeds(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    fake_search.fail_next("documents", 429, retry_after="7")
    waits = Waits()
    summary = ingest(settings, corpus_copy, embedder, waits)
    uploads = fake_search.calls("documents")
    assert len(uploads) == 2 and uploads[0]["body"] == uploads[1]["body"]
    assert waits == [7.0]
    assert len(fake_search.documents(INDEX)) == summary.chunks


def test_503_without_retry_after_backs_off_exponentially(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path, azure_search_retry_base_seconds=2.0)
    fake_search.fail_next("documents", 503, times=2)
    waits = Waits()
    ingest(settings, corpus_copy, embedder, waits)
    assert len(fake_search.calls("documents")) == 3
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0  # base * 2^n, with jitter in [50%, 100%]


def test_documents_that_fail_inside_a_207_are_retried_alone(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    first = ingest(settings, corpus_copy, embedder)
    changed = corpus_copy / "security" / "content-safety.md"
    changed.write_text(changed.read_text() + "\n\nReview blocked prompts every week with the safety team.\n")
    from ingest.load import discover, file_hash, load_file
    from ingest.split import chunk_document

    source = next(s for s in discover(corpus_copy) if s.key.endswith("content-safety.md"))
    chunks = chunk_document(load_file(source, file_hash(source.path)), embedder.count_tokens, embedder.max_tokens,
                            settings.chunk_overlap_tokens)
    failing = {chunks[0].chunk_id}
    fake_search.fail_documents(failing, status=503)
    before = len(fake_search.calls("documents"))
    ingest(settings, corpus_copy, embedder)
    writes = fake_search.calls("documents")[before:]
    assert {a["id"] for a in writes[1]["body"]["value"]} == failing  # only the failed document again
    assert failing <= set(fake_search.documents(INDEX)) and first.chunks


def test_a_retry_after_longer_than_the_limit_stops_with_one_clear_line(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path, azure_search_retry_max_seconds=30)
    fake_search.fail_next("documents", 429, retry_after="600")
    waits = Waits()
    with pytest.raises(AzureSearchError, match="retry after 600s.*WAF_AZURE_SEARCH_RETRY_MAX_SECONDS") as error:
        ingest(settings, corpus_copy, embedder, waits)
    assert waits == [] and "\n" not in str(error.value)


def test_retries_are_bounded(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path, azure_search_max_retries=2)
    fake_search.fail_next("documents", 503, times=10)
    with pytest.raises(AzureSearchError, match="after 2 retries: HTTP 503"):
        ingest(settings, corpus_copy, embedder)
    assert len(fake_search.calls("documents")) == 3


def test_a_wrong_key_is_not_retried_and_says_what_to_check(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path, azure_search_api_key="wrong")
    with pytest.raises(AzureSearchError, match="HTTP 403: not authorized.*WAF_AZURE_SEARCH_API_KEY"):
        ingest(settings, corpus_copy, embedder)
    assert len(fake_search.requests) == 1


def test_a_vector_dimension_change_asks_for_a_rebuild(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    store = AzureSearchStore(settings)
    with pytest.raises(AzureSearchError, match="384-dimension vectors but the embedding model makes 768.*--rebuild"):
        store.ensure_index(768, store.get_index())


# -- opening the index for questions -------------------------------------------------------------------------

def test_opening_a_missing_index_names_the_command_that_builds_it(fake_search, tmp_path, embedder):
    with pytest.raises(IndexMissing, match="no Azure AI Search index 'waf-test'.*waf-assistant ingest"):
        Assistant.open(azure_settings(fake_search, tmp_path), embedder)


def test_a_query_key_is_enough_to_answer_questions(tmp_path, corpus_copy, embedder):
    server = FakeAzureSearch(api_key=KEY, query_key="query-only-key").start()
    try:
        ingest(azure_settings(server, tmp_path), corpus_copy, embedder)
        settings = azure_settings(server, tmp_path, azure_search_api_key="query-only-key")
        answer = Assistant.open(settings, embedder).ask("What does SE:07 ask for?")
        assert not answer.refused and "encryption#encrypt-data-at-rest" in answer.display_text()
        refused = [r for r in server.requests if r["headers"].get("api-key") == "query-only-key"
                   and r["operation"] not in ("search", "count")]
        assert [r["operation"] for r in refused] == ["get_index"]  # tolerated: the definition is optional
        with pytest.raises(AzureSearchError, match="HTTP 403"):
            ingest(settings, corpus_copy, embedder)
    finally:
        server.stop()


def test_an_index_built_with_another_model_is_refused(fake_search, tmp_path, corpus_copy, embedder):
    ingest(azure_settings(fake_search, tmp_path), corpus_copy, embedder)
    other = azure_settings(fake_search, tmp_path, embedding_model="some-other-model")
    with pytest.raises(ModelMismatch, match="some-other-model.*--rebuild"):
        AzureSearchIndex.open(other, embedder)


def test_missing_endpoint_is_a_config_error_before_any_request(tmp_path):
    settings = make_settings(tmp_path / "x", index_backend="azure-search")
    with pytest.raises(AzureSearchConfigError, match="WAF_AZURE_SEARCH_ENDPOINT is not set"):
        run_ingest(settings, paths=[FIXTURE_CORPUS])
    with pytest.raises(AzureSearchConfigError, match="WAF_AZURE_SEARCH_ENDPOINT is not set"):
        Assistant.open(settings)
    bad_name = make_settings(tmp_path / "x", index_backend="azure-search", azure_search_endpoint="https://x.search.windows.net",
                             azure_search_index="Bad_Name")
    with pytest.raises(AzureSearchConfigError, match="not a valid index name"):
        AzureSearchStore(bad_name)


def test_without_the_sdk_the_error_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.search.documents", None)
    settings = make_settings(tmp_path / "x", index_backend="azure-search", azure_search_endpoint="https://x.search.windows.net",
                             azure_search_api_key="k")
    with pytest.raises(AzureSearchConfigError, match=r"pip install -e '\.\[azure\]'"):
        AzureSearchStore(settings)


def test_a_query_sends_one_hybrid_request_with_the_pillar_filter(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    assistant = Assistant.open(settings, embedder)
    before = len(fake_search.calls("search"))
    hits = assistant.retriever.search("Which network controls protect Azure OpenAI?", pillar="security")
    requests = fake_search.calls("search")[before:]
    assert len(requests) == 1
    body = requests[0]["body"]
    assert body["search"] == "Which network controls protect Azure OpenAI?"
    assert body["filter"] == "pillars/any(p: p eq 'security')" and body["top"] == settings.candidate_k
    (vector_query,) = body["vectorQueries"]
    assert vector_query["kind"] == "vector" and vector_query["fields"] == VECTOR_FIELD
    assert vector_query["k"] == settings.candidate_k and len(vector_query["vector"]) == 384
    assert VECTOR_FIELD in body["select"].split(",")
    assert hits and all("security" in h.chunk.pillars for h in hits)
    assert [h.position for h in hits] == list(range(len(hits)))


def test_dense_scores_are_computed_locally_when_the_index_returns_no_vectors(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    question = "turn off public access to Azure OpenAI"
    with_vectors = Assistant.open(settings, embedder).retriever.search(question)
    for field in fake_search.indexes[INDEX]["definition"]["fields"]:
        if field["name"] == VECTOR_FIELD:
            field["retrievable"] = False  # as if made non-retrievable (or stored=false) to save space
    retriever = Assistant.open(settings, embedder).retriever
    without_vectors = retriever.search(question)
    assert VECTOR_FIELD not in fake_search.calls("search")[-1]["body"]["select"].split(",")
    assert [h.chunk.chunk_id for h in without_vectors] == [h.chunk.chunk_id for h in with_vectors]
    for fallback, hit in zip(without_vectors, with_vectors):
        assert fallback.dense_score == pytest.approx(hit.dense_score, abs=1e-4)


def test_the_question_text_loses_query_operators():
    assert text_query('PTU or pay-as-you-go? "quoted" (x) +y -z a*') == "PTU or pay-as-you-go? quoted x y z a"


def test_answers_encode_sentences_because_the_index_has_no_sentence_vectors(fake_search, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    assistant = Assistant.open(settings, embedder)
    assert assistant.answerer.sentence_vectors is None and assistant.index.stored.sentences is None
    answer = assistant.ask("What does SE:07 ask for?")
    assert not answer.refused and "encryption#encrypt-data-at-rest" in answer.display_text()
    assert all(c.url.startswith("https://learn.microsoft.com/") for c in answer.citations)
    refused = assistant.ask("What is a good recipe for banana bread?")
    assert refused.refused and not refused.citations


def test_the_llm_path_verifies_citations_against_an_azure_backed_index(fake_search, fake_openai, tmp_path, corpus_copy, embedder):
    settings = azure_settings(fake_search, tmp_path)
    ingest(settings, corpus_copy, embedder)
    llm_settings = settings.model_copy(update={
        "llm_backend": "openai", "openai_base_url": fake_openai.base_url, "usage_log": False, "llm_fallbacks": ["extractive"],
    })
    answer = Assistant.open(llm_settings, embedder).ask("How should the app react when the model API returns 429?")
    assert answer.backend == "openai" and not answer.refused and not answer.notice
    assert {c.number for c in answer.citations} == {1, 2} and answer.unsupported_sentences == []


# -- Microsoft Entra ID ----------------------------------------------------------------------------------------

def test_without_a_key_requests_carry_a_bearer_token_from_default_azure_credential(tmp_path, corpus_copy, embedder, monkeypatch):
    """DefaultAzureCredential (managed identity in Azure) is what signs in when no key is set. Bearer tokens
    are only sent over TLS, so this fake service runs HTTPS with a throwaway certificate."""
    import azure.identity
    from azure.core.credentials import AccessToken

    scopes_asked: list[tuple] = []

    class FakeCredential:
        def get_token(self, *scopes, **kwargs):
            scopes_asked.append(scopes)
            return AccessToken("entra-token", 4102444800)

        def get_token_info(self, *scopes, options=None):
            from azure.core.credentials import AccessTokenInfo

            scopes_asked.append(scopes)
            return AccessTokenInfo("entra-token", 4102444800)

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    context, certificate = self_signed_context(tmp_path)
    server = FakeAzureSearch(api_key=None, tokens={"entra-token"}, ssl_context=context).start()
    try:
        settings = azure_settings(server, tmp_path, azure_search_api_key=None)
        store = AzureSearchStore(settings, sleep=Waits(), connection_verify=certificate)
        summary = run_ingest(
            settings, paths=[corpus_copy], embedder=embedder, show_progress=False,
            backend=AzureSearchBackend(settings, store=store),
        )
        assert summary.chunks == len(server.documents(INDEX)) > 0
        assert all(r["headers"].get("Authorization") == "Bearer entra-token" for r in server.requests)
        assert not any("api-key" in r["headers"] for r in server.requests)
        assert ("https://search.azure.com/.default",) in scopes_asked
    finally:
        server.stop()


# -- the console script, as a user runs it ----------------------------------------------------------------------

def run_cli(args, env_overrides, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAF_")}
    env.update(env_overrides)
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env, timeout=300, **kw)


@pytest.mark.slow
def test_ingest_ask_and_info_work_unchanged_with_the_azure_backend(fake_search, tmp_path):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS / "security", corpus)
    env = {
        "WAF_INDEX_BACKEND": "azure-search", "WAF_AZURE_SEARCH_ENDPOINT": fake_search.endpoint,
        "WAF_AZURE_SEARCH_INDEX": INDEX, "WAF_AZURE_SEARCH_API_KEY": KEY, "WAF_INDEX_DIR": str(tmp_path / "no-faiss"),
        "WAF_USAGE_DB": "", "WAF_AZURE_SEARCH_RETRY_BASE_SECONDS": "0.01",
    }
    result = run_cli(["ingest", str(corpus)], env)
    assert result.returncode == 0, result.stderr
    assert "files: 4 (4 embedded" in result.stdout and f"index written to Azure AI Search index '{INDEX}'" in result.stdout
    assert not (tmp_path / "no-faiss").exists()

    result = run_cli(["ask", "What does SE:07 ask for?"], env)
    assert result.returncode == 0, result.stderr
    assert "Sources" in result.stdout and "encryption#encrypt-data-at-rest" in result.stdout

    result = run_cli(["info"], env)
    assert result.returncode == 0, result.stderr
    assert f"Azure AI Search index '{INDEX}'" in result.stdout and "(384 dims)" in result.stdout


@pytest.mark.slow
def test_bad_azure_settings_are_one_line_errors_in_the_cli(tmp_path):
    env = {"WAF_INDEX_BACKEND": "azure-search", "WAF_INDEX_DIR": str(tmp_path / "none")}
    for args in (["ask", "anything"], ["ingest", str(FIXTURE_CORPUS)], ["info"]):
        result = run_cli(args, env)
        assert result.returncode == 1, (args, result.stderr)
        assert "WAF_AZURE_SEARCH_ENDPOINT is not set" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = run_cli(["ask", "anything"], {"WAF_INDEX_BACKEND": "azure", "WAF_INDEX_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "WAF_INDEX_BACKEND" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_default_install_does_not_import_azure(tmp_path):
    code = (
        "import sys; import app.cli, app.assistant, ingest.pipeline, index.faiss.retriever; "
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_fake_service_filters_as_odata_does():
    """The test server's filter subset, checked on its own so the tests above can trust it."""
    from tests.fake_azure_search import BadRequest, FilterParser

    fields = {
        "id": {"name": "id", "type": "Edm.String", "filterable": True},
        "pillars": {"name": "pillars", "type": "Collection(Edm.String)", "filterable": True},
        "n": {"name": "n", "type": "Edm.Int32", "filterable": True},
        "content": {"name": "content", "type": "Edm.String", "filterable": False},
    }
    docs = [{"id": "a", "pillars": ["security"], "n": 1}, {"id": "b", "pillars": ["cost-optimization"], "n": 2},
            {"id": "c'q", "pillars": [], "n": 3}]

    def ids(expression):
        keep = FilterParser(expression, fields).parse()
        return [d["id"] for d in docs if keep(d, {})]

    assert ids("pillars/any(p: p eq 'security')") == ["a"]
    assert ids("not pillars/any(p: p eq 'security') and n ge 2") == ["b", "c'q"]
    assert ids("(id gt 'a') and (n lt 3) or id eq 'c''q'") == ["b", "c'q"]
    assert ids("search.in(id, 'a,b')") == ["a", "b"]
    assert ids("search.in(id, 'a|c''q', '|')") == ["a", "c'q"]
    for bad in ("content eq 'x'", "pillars eq 'security'", "n eq", "id like 'a'", "nothing eq 1"):
        with pytest.raises(BadRequest):
            ids(bad)
