"""Keep the default path offline and quiet: no hub downloads, no tracing, no usage statistics.

Each variable is only a default: an operator who wants a hub model sets HF_HUB_OFFLINE=0 themselves.
"""
import os

OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "RAGAS_DO_NOT_TRACK": "true",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


def apply_offline_defaults() -> None:
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
