"""The one settings object: WAF_* environment variables and `.env`, documented in the README."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAF_", env_file=".env", extra="ignore")

    corpus_paths: list[Path] = Field(default_factory=lambda: [PROJECT_ROOT / "corpus"])
    index_dir: Path = PROJECT_ROOT / ".index"
    embedding_model: str = PACKAGED_MODEL
    embedding_batch_size: int = 32
    embedding_device: str = "cpu"
    chunk_max_tokens: int = 0  # 0: the embedding model's own max_seq_length
    chunk_overlap_tokens: int = 48
    precompute_sentences: bool = True
    top_k: int = 5
    candidate_k: int = 40
    rrf_k: int = 60
    max_chunks_per_section: int = 1
    relevance_threshold: float = 0.30
    answer_max_sentences: int = 6
    answer_min_sentence_score: float = 0.3
    llm_backend: Literal["extractive"] = "extractive"
    index_backend: Literal["faiss"] = "faiss"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
