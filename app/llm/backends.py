"""The ordered chain of answer backends, built from settings: the primary `WAF_LLM_BACKEND`, then
`WAF_LLM_FALLBACKS`. Chat models are langchain-openai's ChatOpenAI / AzureChatOpenAI, created lazily so
that the extractive default never imports langchain-openai (which imports tiktoken; we never call it:
token counts come from the API's usage fields)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from app.llm.resilience import BackendConfigError
from core.settings import Settings

_CHAT_LOCK = threading.Lock()
KINDS = ("extractive", "openai", "azure-openai")
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
_OPENAI_KEYS = {"backend", "name", "base_url", "api_key", "model"}
_AZURE_KEYS = {"backend", "name", "endpoint", "deployment", "api_version", "api_key"}


@dataclass
class Backend:
    name: str  # what the answer object reports: "openai", "azure-openai", "azure-secondary", "extractive"
    kind: str
    model_name: str = ""  # model or deployment: the price-table key when the response names no model
    location: str = ""  # base URL or endpoint, for messages
    options: dict[str, Any] = field(default_factory=dict)
    _chat: Any = None

    @property
    def generative(self) -> bool:
        return self.kind != "extractive"

    def chat(self):
        with _CHAT_LOCK:  # the review judge's threads share one client per backend
            if self._chat is None:
                self._chat = _make_chat_model(self.kind, self.options)
            return self._chat


def build_backends(settings: Settings) -> list[Backend]:
    specs: list[str | dict] = [settings.llm_backend, *settings.llm_fallbacks]
    kinds = [str(s.get("backend", "") if isinstance(s, dict) else s).strip().lower() for s in specs]
    for kind, spec in zip(kinds, specs):
        if kind not in KINDS:
            raise BackendConfigError(f"unknown LLM backend {spec!r}; choose one of: {', '.join(KINDS)}")
    if "extractive" in kinds:  # extractive always answers: nothing after it is ever reached
        specs = specs[: kinds.index("extractive") + 1]
    backends: list[Backend] = []
    for spec in specs:
        backend = _backend(settings, spec)
        if any(b.name == backend.name for b in backends):
            if isinstance(spec, dict) and spec.get("name"):
                raise BackendConfigError(f"two LLM backends are named {backend.name!r}")
            if backend.kind == "extractive" or backend.options == next(b for b in backends if b.name == backend.name).options:
                continue  # the same backend listed twice
            backend.name = f"{backend.name}#{len(backends) + 1}"
        backends.append(backend)
    return backends


def _secret(value) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _backend(settings: Settings, spec: str | dict) -> Backend:
    override = dict(spec) if isinstance(spec, dict) else {"backend": spec}
    kind = str(override.get("backend", "")).strip().lower()
    if kind not in KINDS:
        raise BackendConfigError(f"unknown LLM backend {override.get('backend')!r}; choose one of: {', '.join(KINDS)}")
    name = str(override.get("name") or kind)
    if kind == "extractive":
        return Backend(name, kind)
    common = {
        "timeout": settings.llm_timeout_seconds,
        "max_retries": 0,  # app.llm.resilience owns retries, so Retry-After and counting are ours
        "temperature": settings.llm_temperature,
        "max_tokens": settings.llm_max_output_tokens,
        "stream_usage": True,  # token counts in the final stream chunk: no local tokenizer
    }
    if kind == "openai":
        _check_keys(override, _OPENAI_KEYS)
        base_url = override.get("base_url") or settings.openai_base_url
        api_key = override.get("api_key") or _secret(settings.openai_api_key) or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if not base_url:
                raise BackendConfigError(
                    "the openai backend needs WAF_OPENAI_API_KEY (or OPENAI_API_KEY), or WAF_OPENAI_BASE_URL for an "
                    "OpenAI-compatible server"
                )
            api_key = "not-needed"  # Ollama, vLLM, LM Studio, llama.cpp accept any key
        model = override.get("model") or settings.openai_model
        options = {**common, "model": model, "base_url": base_url, "api_key": api_key}
        return Backend(name, kind, model, base_url or "https://api.openai.com/v1", options)

    _check_keys(override, _AZURE_KEYS)
    endpoint = override.get("endpoint") or settings.azure_openai_endpoint
    deployment = override.get("deployment") or settings.azure_openai_deployment
    missing = [n for n, v in (("WAF_AZURE_OPENAI_ENDPOINT", endpoint), ("WAF_AZURE_OPENAI_DEPLOYMENT", deployment)) if not v]
    if missing:
        raise BackendConfigError(f"the azure-openai backend {name!r} needs {' and '.join(missing)}")
    api_key = override.get("api_key") or _secret(settings.azure_openai_api_key)
    options = {
        **common,
        "azure_endpoint": endpoint,
        "azure_deployment": deployment,
        "api_version": override.get("api_version") or settings.azure_openai_api_version,
        "api_key": api_key,  # None: Microsoft Entra ID (DefaultAzureCredential), see _make_chat_model
        "model": deployment,
    }
    return Backend(name, kind, deployment, endpoint, options)


def _check_keys(override: dict, allowed: set[str]) -> None:
    unknown = set(override) - allowed
    if unknown:
        raise BackendConfigError(
            f"unknown keys {sorted(unknown)} for an {override.get('backend')} fallback; allowed: {sorted(allowed)}"
        )


def entra_token_provider():
    """A bearer-token callable from DefaultAzureCredential: managed identity, workload identity, Azure CLI..."""
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError as exc:
        raise BackendConfigError(
            "Microsoft Entra ID sign-in needs azure-identity: pip install 'waf-ai-assistant[azure]', "
            "or set WAF_AZURE_OPENAI_API_KEY"
        ) from exc
    return get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)


def _make_chat_model(kind: str, options: dict):
    options = dict(options)
    if kind == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(**options)
    from langchain_openai import AzureChatOpenAI

    if not options.get("api_key"):
        # api_key=None explicitly, so a key in AZURE_OPENAI_API_KEY is not sent beside the Entra token
        options.update(api_key=None, azure_ad_token_provider=entra_token_provider())
    return AzureChatOpenAI(**options)
