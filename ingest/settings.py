"""The one settings object: WAF_* environment variables and `.env`, documented in the README."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    relevance_threshold: float = 0.42  # python -m eval && python -m eval.calibrate
    answer_max_sentences: int = 6
    answer_min_sentence_score: float = 0.3
    checklist_path: Path = PROJECT_ROOT / "corpus" / "checklist" / "review-checklist.yaml"
    feedback_db: Path = PROJECT_ROOT / ".feedback.sqlite"
    review_max_upload_mb: int = 10
    review_addressed_phrases: int = 2
    review_addressed_similarity: float = 0.30
    review_partial_similarity: float = 0.55
    # Who judges each checklist item: "rule" (offline, transparent), "llm" (the LLM chain below judges, the rule
    # decides where it fails), or "auto": llm when llm_backend is a generative backend, else rule.
    review_assessor: Literal["auto", "rule", "llm"] = "auto"
    review_llm_workers: int = Field(4, ge=1, le=32)  # checklist items judged concurrently
    llm_backend: Literal["extractive", "openai", "azure-openai"] = "extractive"
    # Generative backends (app/llm). Fallbacks are tried in order after llm_backend fails: a name
    # ("extractive", "openai", "azure-openai") or an object overriding that backend's settings, e.g.
    # {"backend": "azure-openai", "name": "azure-secondary", "endpoint": "...", "deployment": "..."}.
    llm_fallbacks: list[str | dict[str, str]] = Field(default_factory=lambda: ["extractive"])
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    azure_openai_endpoint: str | None = None
    azure_openai_deployment: str | None = None
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_api_key: SecretStr | None = None  # unset: Microsoft Entra ID via DefaultAzureCredential
    llm_temperature: float = 0.0
    llm_max_output_tokens: int = 1000
    llm_timeout_seconds: float = 30.0
    llm_max_retries: int = 2
    llm_retry_base_seconds: float = 0.5
    llm_retry_max_seconds: float = 20.0
    llm_support_threshold: float = 0.48  # python -m app.llm.calibrate (golden set)
    llm_history_turns: int = 3
    usage_db: Path | None = PROJECT_ROOT / ".usage.sqlite"
    llm_prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": {"input_per_1k": 0.00015, "output_per_1k": 0.0006},
            "gpt-4o": {"input_per_1k": 0.0025, "output_per_1k": 0.01},
            "gpt-4.1-nano": {"input_per_1k": 0.0001, "output_per_1k": 0.0004},
            "gpt-4.1-mini": {"input_per_1k": 0.0004, "output_per_1k": 0.0016},
            "gpt-4.1": {"input_per_1k": 0.002, "output_per_1k": 0.008},
        }
    )
    index_backend: Literal["faiss", "azure-search"] = "faiss"
    # Azure AI Search (ingest/azure_search.py, app/azure_retrieval.py), used when index_backend is azure-search.
    azure_search_endpoint: str | None = None  # https://<service>.search.windows.net
    azure_search_index: str = "waf-ai-guidance"
    azure_search_api_key: SecretStr | None = None  # unset: Microsoft Entra ID via DefaultAzureCredential
    azure_search_semantic_config: str | None = None  # created by ingest and used by queries when set
    azure_search_api_version: str | None = None  # unset: the SDK's default REST API version
    azure_search_batch_size: int = 100  # documents per upload/delete request (the service allows 1000 / 16 MB)
    azure_search_max_retries: int = 5
    azure_search_retry_base_seconds: float = 1.0
    azure_search_retry_max_seconds: float = 60.0
    azure_search_timeout_seconds: float = 30.0
    # LLM judge of `python -m eval` (ragas Faithfulness, ResponseRelevancy, LLMContextRecall): "none", "llm"
    # (the WAF_LLM_BACKEND backend), or "openai" / "azure-openai" (that backend's settings, whatever answers).
    eval_judge: Literal["none", "llm", "openai", "azure-openai"] = "none"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
