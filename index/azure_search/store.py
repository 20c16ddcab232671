"""Azure AI Search as the index (WAF_INDEX_BACKEND=azure-search): schema, client, retries, reads and writes.

What the ingest job needs of it (index.azure_search.backend), at service scale:

- The index schema is created or updated by ingest: key = Chunk.chunk_id (a hash of source, heading path and
  content), searchable content/title/heading path, filterable pillars, the source file key and hash, the
  embedding model and chunking that produced the chunk, and a vector field whose dimension comes from the
  embedding model, searched with an HNSW profile (cosine). A semantic configuration is added when
  WAF_AZURE_SEARCH_SEMANTIC_CONFIG names one.
- Incremental like FAISS: the index itself is the manifest. Ingest reads (id, source_key, content_hash, model,
  chunking, file_chunk_count) of every document; a file whose chunks are all there with its current hash, the
  same model and chunking, is not loaded or embedded again. Chunks of changed or removed files are deleted
  after the new ones are uploaded (merge-or-upload by id), so readers never see a file without chunks.
- Every service call retries throttling and transient faults itself (the SDK's own retries are off so there
  is one policy): 429/503 (and 500/502/504, timeouts, connection errors) after Retry-After or retry-after-ms
  when the service sends one, else exponential backoff with jitter. Documents that fail inside a 207
  multi-status batch with 409/422/429/503 are retried on their own.

The azure packages are an optional extra (`pip install -e '.[azure]'`); they are imported only here and in
index/azure_search/retriever.py, only when this backend is chosen.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.documents import Chunk
from core.retry import Backoff, retry_after_seconds
from index.errors import IndexMissing, IndexProblem, ModelMismatch

log = logging.getLogger("ingest")

VECTOR_FIELD = "content_vector"
HNSW_CONFIG = "waf-hnsw"
VECTOR_PROFILE = "waf-hnsw-profile"
TEXT_ANALYZER = "en.microsoft"
# Fields read back to rebuild a Chunk (the vector is selected separately, when a dense score is needed).
CHUNK_FIELDS = [
    "id", "content", "embed_text", "title", "heading_path", "section", "url", "pillars", "topics",
    "source_key", "content_hash",
]
STATE_FIELDS = [
    "id", "source_key", "content_hash", "file_chunk_count", "embedding_model", "chunk_max_tokens",
    "chunk_overlap_tokens",
]
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_DOCUMENT_STATUS = frozenset({409, 422, 429, 503})
PAGE_SIZE = 1000  # the service's largest page
_INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$")
EXTRA_HINT = "install the azure extra: .venv/bin/pip install -e '.[azure]'"


class AzureSearchConfigError(IndexProblem):
    """Bad or missing WAF_AZURE_SEARCH_* settings, or the azure packages are not installed."""


class AzureSearchError(IndexProblem):
    """The service refused or failed a request (after retries): one line for the user."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# -- settings and clients ----------------------------------------------------------------------------------


def check_settings(settings) -> None:
    """Fail fast, before any model loads, with a message naming the setting to fix."""
    endpoint = (settings.azure_search_endpoint or "").strip()
    if not endpoint:
        raise AzureSearchConfigError(
            "WAF_AZURE_SEARCH_ENDPOINT is not set; WAF_INDEX_BACKEND=azure-search needs it "
            "(https://<service>.search.windows.net)"
        )
    if not endpoint.startswith(("https://", "http://")):
        raise AzureSearchConfigError(
            f"WAF_AZURE_SEARCH_ENDPOINT must be a URL like https://<service>.search.windows.net, not {endpoint!r}"
        )
    if not _INDEX_NAME.match(settings.azure_search_index or ""):
        raise AzureSearchConfigError(
            f"WAF_AZURE_SEARCH_INDEX {settings.azure_search_index!r} is not a valid index name "
            "(lowercase letters, digits and dashes, at most 128 characters, starting and ending with a letter or digit)"
        )
    if settings.azure_search_batch_size < 1 or settings.azure_search_batch_size > 1000:
        raise AzureSearchConfigError("WAF_AZURE_SEARCH_BATCH_SIZE must be between 1 and 1000")


def make_credential(settings):
    """An API key when WAF_AZURE_SEARCH_API_KEY is set, else Microsoft Entra ID (DefaultAzureCredential:
    managed identity, workload identity, `az login`...)."""
    key = settings.azure_search_api_key.get_secret_value() if settings.azure_search_api_key else ""
    if key:
        from azure.core.credentials import AzureKeyCredential

        return AzureKeyCredential(key)
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise AzureSearchConfigError(
            f"WAF_AZURE_SEARCH_API_KEY is unset, so sign-in uses Microsoft Entra ID, which needs azure-identity: {EXTRA_HINT}"
        ) from exc
    return DefaultAzureCredential()


def _sdk():
    try:
        from azure.search.documents import SearchClient
        from azure.search.documents.indexes import SearchIndexClient
    except ImportError as exc:
        raise AzureSearchConfigError(f"WAF_INDEX_BACKEND=azure-search needs azure-search-documents: {EXTRA_HINT}") from exc
    return SearchClient, SearchIndexClient


# -- retries -------------------------------------------------------------------------------------------------


def _is_transient(exc: BaseException) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in RETRYABLE_STATUS


def describe_search_error(exc: BaseException) -> str:
    """One line: the HTTP status and the service's own message, or the connection problem."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    status = getattr(exc, "status_code", None)
    message = ""
    error = getattr(exc, "error", None)
    if error is not None:
        message = getattr(error, "message", None) or ""
    if not message and isinstance(exc, HttpResponseError) and exc.response is not None:
        try:
            message = (exc.response.json().get("error") or {}).get("message") or ""
        except Exception:  # not JSON
            message = ""
    message = message or getattr(exc, "message", "") or str(exc) or type(exc).__name__
    message = message.splitlines()[0] if message else ""
    if status in (401, 403) or isinstance(exc, ClientAuthenticationError):
        hint = " (check WAF_AZURE_SEARCH_API_KEY, or the identity's Search Index Data Contributor/Reader role)"
        return (f"HTTP {status}: " if status else "") + f"not authorized{hint}: {message}"[:300]
    if isinstance(status, int):
        return f"HTTP {status}: {message}"[:300]
    return f"{type(exc).__name__}: {message}"[:300]


class SearchRetry(Backoff):
    """Backoff for Azure AI Search calls, with the SDK's own retries off."""

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        """fn() with retries of throttling and transient faults; any failure left becomes AzureSearchError."""
        from azure.core.exceptions import AzureError

        attempt = 0
        while True:
            try:
                return fn()
            except AzureError as exc:
                asked = retry_after_seconds(exc)
                if not _is_transient(exc):
                    raise _as_problem(what, exc) from exc
                if attempt >= self.max_retries:
                    raise AzureSearchError(
                        f"{what} failed after {attempt} retries: {describe_search_error(exc)}", getattr(exc, "status_code", None)
                    ) from exc
                if asked is not None and asked > self.max_seconds:
                    raise AzureSearchError(
                        f"{what} throttled: the service asks to retry after {asked:g}s, longer than "
                        f"WAF_AZURE_SEARCH_RETRY_MAX_SECONDS ({self.max_seconds:g}s); run it again later"
                    ) from exc
                seconds = asked if asked is not None else self.backoff(attempt)
                log.warning("%s: %s; retry %d in %.1fs", what, describe_search_error(exc), attempt + 1, seconds)
                self.wait(seconds)
                attempt += 1


def _as_problem(what: str, exc: BaseException) -> IndexProblem:
    from azure.core.exceptions import ResourceNotFoundError

    if isinstance(exc, ResourceNotFoundError):
        return IndexMissing(f"{what}: {describe_search_error(exc)}. Build the index with: waf-assistant ingest")
    return AzureSearchError(f"{what} failed: {describe_search_error(exc)}", getattr(exc, "status_code", None))


# -- documents ---------------------------------------------------------------------------------------------


def chunk_to_document(chunk: Chunk, vector: np.ndarray, model: str, max_tokens: int, overlap: int, file_chunks: int) -> dict:
    return {
        "id": chunk.chunk_id,
        "content": chunk.text,
        "embed_text": chunk.embed_text,
        **chunk.citation_metadata(),
        "content_hash": chunk.content_hash,
        "file_chunk_count": file_chunks,
        "embedding_model": model,
        "chunk_max_tokens": max_tokens,
        "chunk_overlap_tokens": overlap,
        # float32 precision is all the index keeps; seven decimals keep the JSON small.
        VECTOR_FIELD: np.round(np.asarray(vector, dtype=np.float64), 7).tolist(),
    }


def document_to_chunk(document: dict) -> Chunk:
    return Chunk(
        chunk_id=document["id"],
        source_key=document.get("source_key") or "",
        title=document.get("title") or "",
        heading_path=list(document.get("heading_path") or []),
        url=document.get("url") or "",
        text=document.get("content") or "",
        embed_text=document.get("embed_text") or document.get("content") or "",
        pillars=list(document.get("pillars") or []),
        topics=list(document.get("topics") or []),
        content_hash=document.get("content_hash") or "",
    )


def odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def pillar_filter(pillar: str | None) -> str | None:
    return f"pillars/any(p: p eq {odata_string(pillar)})" if pillar else None


# -- the index ---------------------------------------------------------------------------------------------


@dataclass
class FileState:
    """What the index holds for one source file."""

    ids: list[str] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    counts: set[int] = field(default_factory=set)
    signatures: set[tuple] = field(default_factory=set)  # (embedding_model, chunk_max_tokens, chunk_overlap_tokens)

    def complete(self, digest: str) -> bool:
        return self.hashes == {digest} and self.counts == {len(self.ids)} and len(self.signatures) == 1


class AzureSearchStore:
    """The SDK clients for one index, with this module's retry policy around every call."""

    def __init__(self, settings, credential=None, sleep: Callable[[float], None] = time.sleep, **client_kwargs):
        check_settings(settings)
        SearchClient, SearchIndexClient = _sdk()
        self.settings = settings
        self.endpoint = settings.azure_search_endpoint.strip().rstrip("/")
        self.name = settings.azure_search_index
        self.semantic_config = settings.azure_search_semantic_config or None
        credential = credential if credential is not None else make_credential(settings)
        options: dict[str, Any] = {
            "retry_total": 0,  # one retry policy, ours (SearchRetry), which honours Retry-After and counts
            "connection_timeout": settings.azure_search_timeout_seconds,
            "read_timeout": settings.azure_search_timeout_seconds,
            "user_agent": "waf-ai-assistant",
        }
        if settings.azure_search_api_version:
            options["api_version"] = settings.azure_search_api_version
        options.update(client_kwargs)
        self.index_client = SearchIndexClient(self.endpoint, credential, **options)
        self.search_client = SearchClient(self.endpoint, self.name, credential, **options)
        self.retry = SearchRetry(
            settings.azure_search_max_retries,
            settings.azure_search_retry_base_seconds,
            settings.azure_search_retry_max_seconds,
            sleep,
        )

    @property
    def label(self) -> str:
        return f"Azure AI Search index {self.name!r} at {self.endpoint}"

    def close(self) -> None:
        self.index_client.close()
        self.search_client.close()

    # schema
    def definition(self, dimension: int):
        from azure.search.documents.indexes import models as m

        string, collection = m.SearchFieldDataType.String, m.SearchFieldDataType.Collection
        fields = [
            m.SimpleField(name="id", type=string, key=True, filterable=True, sortable=True),
            m.SearchableField(name="content", analyzer_name=TEXT_ANALYZER),
            m.SimpleField(name="embed_text", type=string),
            m.SearchableField(name="title", analyzer_name=TEXT_ANALYZER),
            m.SearchableField(name="heading_path", collection=True, analyzer_name=TEXT_ANALYZER),
            m.SimpleField(name="section", type=string),
            m.SimpleField(name="url", type=string, filterable=True),
            m.SimpleField(name="pillars", type=collection(string), filterable=True, facetable=True),
            m.SimpleField(name="topics", type=collection(string), filterable=True, facetable=True),
            m.SimpleField(name="source_key", type=string, filterable=True, facetable=True),
            m.SimpleField(name="content_hash", type=string, filterable=True),
            m.SimpleField(name="file_chunk_count", type=m.SearchFieldDataType.Int32),
            m.SimpleField(name="embedding_model", type=string, filterable=True, facetable=True),
            m.SimpleField(name="chunk_max_tokens", type=m.SearchFieldDataType.Int32, filterable=True),
            m.SimpleField(name="chunk_overlap_tokens", type=m.SearchFieldDataType.Int32, filterable=True),
            m.SearchField(
                name=VECTOR_FIELD,
                type=collection(m.SearchFieldDataType.Single),
                searchable=True,
                hidden=False,  # retrievable: read back to report the exact cosine similarity as dense_score
                vector_search_dimensions=dimension,
                vector_search_profile_name=VECTOR_PROFILE,
            ),
        ]
        vector_search = m.VectorSearch(
            algorithms=[
                m.HnswAlgorithmConfiguration(
                    name=HNSW_CONFIG,
                    parameters=m.HnswParameters(metric="cosine", m=4, ef_construction=400, ef_search=500),
                )
            ],
            profiles=[m.VectorSearchProfile(name=VECTOR_PROFILE, algorithm_configuration_name=HNSW_CONFIG)],
        )
        semantic = None
        if self.semantic_config:
            semantic = m.SemanticSearch(
                default_configuration_name=self.semantic_config,
                configurations=[
                    m.SemanticConfiguration(
                        name=self.semantic_config,
                        prioritized_fields=m.SemanticPrioritizedFields(
                            title_field=m.SemanticField(field_name="title"),
                            content_fields=[m.SemanticField(field_name="content")],
                            keywords_fields=[m.SemanticField(field_name="heading_path")],
                        ),
                    )
                ],
            )
        return m.SearchIndex(name=self.name, fields=fields, vector_search=vector_search, semantic_search=semantic)

    def get_index(self):
        """The index definition, or None when there is no such index."""
        from azure.core.exceptions import ResourceNotFoundError

        def get():
            try:
                return self.index_client.get_index(self.name)
            except ResourceNotFoundError:
                return None

        return self.retry.run(f"reading the definition of {self.label}", get)

    def ensure_index(self, dimension: int, existing=None):
        """Create the index, or update it in place (new fields, the semantic configuration)."""
        present = vector_dimension(existing)
        if present is not None and present != dimension:
            raise AzureSearchError(
                f"{self.label} holds {present}-dimension vectors but the embedding model makes {dimension}; "
                "rebuild it (waf-assistant ingest --rebuild deletes and recreates the index) or set another "
                "WAF_AZURE_SEARCH_INDEX"
            )
        return self.retry.run(
            f"creating or updating {self.label}",
            lambda: self.index_client.create_or_update_index(self.definition(dimension)),
        )

    def needs_update(self, existing) -> bool:
        if existing is None:
            return True
        names = {f.name for f in existing.fields or []}
        wanted = {f.name for f in self.definition(vector_dimension(existing) or 1).fields}
        if not wanted <= names:
            return True
        if self.semantic_config:
            configurations = getattr(getattr(existing, "semantic_search", None), "configurations", None) or []
            return self.semantic_config not in {c.name for c in configurations}
        return False

    def delete_index(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        def delete():
            try:
                self.index_client.delete_index(self.name)
            except ResourceNotFoundError:
                pass

        self.retry.run(f"deleting {self.label}", delete)

    # reading
    def search(self, what: str, **query) -> list[dict]:
        return self.retry.run(what, lambda: list(self.search_client.search(**query)))

    def documents(self, select: list[str], filter: str | None = None) -> Iterator[dict]:
        """Every document, in pages of 1000 ordered by key (a key filter per page, so no $skip limit)."""
        last = None
        while True:
            clauses = [c for c in (filter, f"id gt {odata_string(last)}" if last is not None else None) if c]
            page = self.search(
                f"reading the documents of {self.label}",
                search_text="*",
                select=select,
                filter=" and ".join(f"({c})" for c in clauses) if clauses else None,
                order_by=["id asc"],
                top=PAGE_SIZE,
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            last = page[-1]["id"]

    def file_states(self) -> dict[str, FileState]:
        states: dict[str, FileState] = {}
        for document in self.documents(STATE_FIELDS):
            state = states.setdefault(document.get("source_key") or "", FileState())
            state.ids.append(document["id"])
            state.hashes.add(document.get("content_hash") or "")
            state.counts.add(int(document.get("file_chunk_count") or 0))
            state.signatures.add(
                (document.get("embedding_model"), document.get("chunk_max_tokens"), document.get("chunk_overlap_tokens"))
            )
        return states

    def count(self) -> int:
        return int(self.retry.run(f"counting the documents of {self.label}", self.search_client.get_document_count))

    # writing
    def upload(self, documents: list[dict]) -> int:
        return self._index_actions("mergeOrUpload", documents)

    def delete(self, ids: Iterable[str]) -> int:
        return self._index_actions("delete", [{"id": i} for i in ids])

    def _index_actions(self, action: str, documents: list[dict]) -> int:
        from azure.search.documents import IndexDocumentsBatch

        size = self.settings.azure_search_batch_size
        done = 0
        for start in range(0, len(documents), size):
            pending = documents[start: start + size]
            attempt = 0
            while pending:
                batch = IndexDocumentsBatch()
                if action == "delete":
                    batch.add_delete_actions(pending)
                else:
                    batch.add_merge_or_upload_actions(pending)
                what = f"{'deleting' if action == 'delete' else 'uploading'} {len(pending)} documents in {self.label}"
                results = self.retry.run(what, lambda batch=batch: self.search_client.index_documents(batch))
                failed = {r.key: r for r in results if not r.succeeded}
                done += len(pending) - len(failed)
                if not failed:
                    break
                fatal = [r for r in failed.values() if r.status_code not in RETRYABLE_DOCUMENT_STATUS]
                if fatal or attempt >= self.retry.max_retries:
                    first = (fatal or list(failed.values()))[0]
                    raise AzureSearchError(
                        f"{what}: {len(failed)} failed, e.g. {first.key}: HTTP {first.status_code} "
                        f"{first.error_message or ''}".rstrip()
                    )
                pending = [d for d in pending if d["id"] in failed]
                self.retry.wait(self.retry.backoff(attempt))
                attempt += 1
        return done


def vector_dimension(index) -> int | None:
    for item in getattr(index, "fields", None) or []:
        if item.name == VECTOR_FIELD:
            return item.vector_search_dimensions
    return None


def check_index_model(store: AzureSearchStore, embedding_model: str) -> None:
    """The query side's version of FAISS's model check: every chunk must come from the configured model."""
    other = store.search(
        f"checking the embedding model of {store.label}",
        search_text="*",
        filter=f"embedding_model ne {odata_string(embedding_model)}",
        select=["id", "embedding_model"],
        top=1,
    )
    if other:
        raise ModelMismatch(
            f"{store.label} holds chunks embedded with {other[0].get('embedding_model')!r}, but WAF_EMBEDDING_MODEL "
            f"is {embedding_model!r}. Rebuild it: waf-assistant ingest --rebuild"
        )
