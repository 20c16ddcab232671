"""The LLM judge of the evaluation: ragas Faithfulness, ResponseRelevancy and LLMContextRecall.

Imported only when a judge is asked for (`WAF_EVAL_JUDGE`, `python -m eval --judge`): it builds a
langchain-openai chat model with app/llm/backends.py, wrapped in ragas' LangchainLLMWrapper, and gives
ResponseRelevancy our own sentence embeddings through LangchainEmbeddingsWrapper (no embeddings API).

- Each metric gets its own chat model: ragas' wrapper sets `temperature` on the model for each call
  (0.01, or 0.3 when it samples several replies), so metrics scored concurrently must not share one.
- `bypass_n=True`: ResponseRelevancy's three sampled questions are three requests, not one request with
  `n=3`, which Ollama and other OpenAI-compatible servers ignore.
- No tokenizer runs: ragas counts tokens with tiktoken only in testset generation, and langchain-openai only
  when asked for `get_num_tokens` (neither happens here; tested with tiktoken's loaders made to fail).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

from app.llm.backends import Backend, build_backends
from app.llm.resilience import BackendConfigError
from core.settings import Settings

JUDGES = ("none", "llm", "openai", "azure-openai")
JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_recall")
MAX_WORKERS = 4  # concurrent judge jobs: gentle on a local Ollama and on rate limits


class JudgeError(Exception):
    pass


class NamedEmbeddings:
    """Our SentenceEmbedder as ragas' LangchainEmbeddingsWrapper expects it: that wrapper puts
    `embeddings.model` into a usage event that must be a string (a model name, as in OpenAIEmbeddings), even
    with telemetry off, and SentenceEmbedder.model is the loaded SentenceTransformer. Same vectors."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.model = str(getattr(embedder, "model_name", type(embedder).__name__))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)


@dataclass
class Judge:
    backend: Backend
    max_retries: int = 2
    max_wait: float = 20.0
    unscored: dict[str, int] = field(default_factory=dict)  # answers a metric could not score (NaN)

    def run_config(self):
        from ragas.run_config import RunConfig

        # ragas retries a call (openai.RateLimitError for ChatOpenAI; any error for AzureChatOpenAI) with
        # exponential backoff; timeout (ragas' default, 180 s) is per answer and metric, and per request.
        return RunConfig(max_retries=self.max_retries, max_wait=int(self.max_wait), max_workers=MAX_WORKERS)

    def metrics(self, embedder) -> list:
        """Fresh metric objects, each with its own chat model; `embedder` is our SentenceEmbedder."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from ragas.embeddings import LangchainEmbeddingsWrapper
            from ragas.llms import LangchainLLMWrapper
            from ragas.metrics import Faithfulness, LLMContextRecall, ResponseRelevancy

            run_config = self.run_config()

            def llm():
                chat = dataclasses.replace(self.backend, options=dict(self.backend.options), _chat=None).chat()
                return LangchainLLMWrapper(chat, run_config=run_config, bypass_n=True)

            embeddings = LangchainEmbeddingsWrapper(NamedEmbeddings(embedder), run_config=run_config)
            return [
                Faithfulness(llm=llm()),
                ResponseRelevancy(llm=llm(), embeddings=embeddings),
                LLMContextRecall(llm=llm()),
            ]

    def record(self, name: str, values: list[float]) -> None:
        """Counts the answers a metric left unscored; none scored at all means the judge is not working."""
        missing = sum(1 for v in values if not isinstance(v, (int, float)) or math.isnan(v))
        self.unscored[name] = missing
        if values and missing == len(values):
            raise JudgeError(
                f"the LLM judge ({self.backend.name} at {self.backend.location}, model {self.backend.model_name}) "
                f"scored none of the {len(values)} answers for {name}; see the errors above"
            )

    def describe(self) -> dict:
        return {
            "backend": self.backend.name, "kind": self.backend.kind, "model": self.backend.model_name,
            "location": self.backend.location, "metrics": list(JUDGE_METRICS), "unscored": dict(self.unscored),
        }


def make_judge(settings: Settings, kind: str | None = None) -> Judge | None:
    """The judge named by `kind` (default: settings.eval_judge); None for "none".

    "llm" is the WAF_LLM_BACKEND backend (never its fallbacks: one judge scores every answer);
    "openai" / "azure-openai" use that backend's WAF_* settings whatever backend answers."""
    kind = (kind or settings.eval_judge or "none").strip().lower()
    if kind not in JUDGES:
        raise BackendConfigError(f"unknown judge {kind!r}; choose one of: {', '.join(JUDGES)}")
    if kind == "none":
        return None
    backend_kind = settings.llm_backend if kind == "llm" else kind
    if backend_kind == "extractive":
        raise BackendConfigError(
            "the LLM judge needs a chat model: set WAF_LLM_BACKEND to openai or azure-openai (with its settings), "
            "or WAF_EVAL_JUDGE / --judge to openai or azure-openai"
        )
    backend = build_backends(settings.model_copy(update={"llm_backend": backend_kind, "llm_fallbacks": []}))[0]
    return Judge(backend, max_retries=settings.llm_max_retries, max_wait=settings.llm_retry_max_seconds)
