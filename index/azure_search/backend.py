"""Azure AI Search (WAF_INDEX_BACKEND=azure-search): the writer the ingest job fills, `info`, and the retriever.

The index itself is the manifest: each document carries its file's key and hash, the chunk count of its file,
and the model and chunking that made it. New chunks are uploaded (merge-or-upload by id) before the chunks of
changed or removed files are deleted, so readers never see a file without chunks.
"""
from __future__ import annotations

from core.embeddings import SentenceEmbedder
from index.azure_search.retriever import AzureSearchIndex, AzureSearchRetriever
from index.azure_search.store import (
    AzureSearchStore,
    FileState,
    check_settings,
    chunk_to_document,
    vector_dimension,
)
from index.backend import IndexBackend, IndexedFile, IndexWriter, IngestBatch
from index.errors import IndexMissing


class AzureSearchWriter(IndexWriter):
    keeps_sentence_vectors = False  # answers encode the quoted sentences of a hit instead

    def __init__(self, settings, store: AzureSearchStore, rebuild: bool):
        self.settings = settings
        self.store = store
        self.label = store.label
        if rebuild:
            store.delete_index()
        self.existing = store.get_index()
        self.states: dict[str, FileState] = store.file_states() if self.existing is not None else {}

    def _reusable(self, state: FileState) -> bool:
        if len(state.hashes) != 1 or not state.complete(next(iter(state.hashes))):
            return False
        (model_name, max_tokens, overlap), = state.signatures
        settings = self.settings
        return (
            model_name == settings.embedding_model
            and overlap == settings.chunk_overlap_tokens
            and (not settings.chunk_max_tokens or max_tokens == settings.chunk_max_tokens)
        )

    def indexed_files(self) -> dict[str, IndexedFile]:
        return {
            key: IndexedFile(next(iter(state.hashes)) if len(state.hashes) == 1 else "", self._reusable(state), len(state.ids))
            for key, state in self.states.items()
        }

    def needs_write(self) -> bool:
        return self.existing is None or self.store.needs_update(self.existing)

    def write(self, batch: IngestBatch) -> bool:
        settings = self.settings
        kept_ids = {i for key in batch.kept for i in self.states[key].ids}
        new_ids = {c.chunk_id for c in batch.new_chunks}
        stale = sorted({i for s in self.states.values() for i in s.ids} - kept_ids - new_ids)
        if batch.new_chunks or self.needs_write():
            dimension = batch.embedder().dimension if (batch.new_chunks or self.existing is None) else vector_dimension(self.existing)
            self.store.ensure_index(dimension, self.existing)
        if batch.new_chunks:
            max_tokens = batch.max_tokens()
            documents = [
                chunk_to_document(
                    chunk, vector, settings.embedding_model, max_tokens, settings.chunk_overlap_tokens,
                    batch.files[chunk.source_key]["chunks"],
                )
                for chunk, vector in zip(batch.new_chunks, batch.new_vectors)
            ]
            self.store.upload(documents)
        if stale:  # after the upload: a changed file is never absent from the index
            self.store.delete(stale)
        return bool(batch.new_chunks or stale)


class AzureSearchBackend(IndexBackend):
    def __init__(self, settings, store: AzureSearchStore | None = None):
        super().__init__(settings)
        check_settings(settings)  # fail fast, before any model loads
        self._store = store

    @property
    def store(self) -> AzureSearchStore:
        if self._store is None:
            self._store = AzureSearchStore(self.settings)
        return self._store

    def open_writer(self, rebuild: bool = False) -> AzureSearchWriter:
        return AzureSearchWriter(self.settings, self.store, rebuild)

    def describe(self) -> list[str]:
        store = self.store
        existing = store.get_index()
        if existing is None:
            raise IndexMissing(f"no {store.label}. Build it with: waf-assistant ingest")
        models: dict[str, int] = {}
        files: set[str] = set()
        for document in store.documents(["id", "source_key", "embedding_model"]):
            name = document.get("embedding_model") or "?"
            models[name] = models.get(name, 0) + 1
            files.add(document.get("source_key") or "")
        semantic = getattr(getattr(existing, "semantic_search", None), "configurations", None) or []
        return [
            f"index:            {store.label}",
            f"embedding model:  {', '.join(models) or '-'} ({vector_dimension(existing)} dims)",
            f"files:            {len(files)}",
            f"chunks:           {sum(models.values())}",
            f"semantic config:  {', '.join(c.name for c in semantic) or 'none'}",
        ]

    def open_retriever(self, embedder: SentenceEmbedder) -> AzureSearchRetriever:
        settings = self.settings
        return AzureSearchRetriever(
            index=AzureSearchIndex.open(settings, embedder, self._store),
            semantic_config=settings.azure_search_semantic_config or None,
            **AzureSearchRetriever.options(settings),
        )
