"""The console script with an LLM backend: the issue's `WAF_LLM_BACKEND=openai WAF_OPENAI_BASE_URL=...
waf-assistant ask`, chat with memory, `usage`, and a backend that is down or misconfigured."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("waf-assistant"))]


def run(args, index_dir, env=None, **kw):
    full = {**os.environ, "WAF_INDEX_DIR": str(index_dir), **(env or {})}
    return subprocess.run(CLI + args, capture_output=True, text=True, env=full, timeout=300, **kw)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ask_and_usage_against_an_openai_compatible_server(corpus_index, fake_openai, tmp_path):
    env = {"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": fake_openai.base_url,
           "WAF_DATA_DIR": str(tmp_path / "data"), "WAF_OPENAI_MODEL": "fake-gpt",
           "WAF_LLM_PRICES": json.dumps({"fake-gpt": {"input_per_1k": 0.01, "output_per_1k": 0.03}})}
    result = run(["ask", "How should the app react when the model API returns 429?"], corpus_index.index_dir, env)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "\nSources\n[1] " in result.stdout and "You could also ask" in result.stdout
    assert fake_openai.count == 1 and "Traceback" not in result.stderr
    tokens_in, tokens_out = fake_openai.replies[0]["usage"]

    usage = run(["usage", "--json"], corpus_index.index_dir, env)
    assert usage.returncode == 0, usage.stderr
    (row,) = json.loads(usage.stdout)
    assert (row["backend"], row["calls"], row["input_tokens"], row["output_tokens"]) == ("openai", 1, tokens_in, tokens_out)
    assert abs(row["cost_usd"] - (tokens_in * 0.01 + tokens_out * 0.03) / 1000) < 1e-9
    table = run(["usage"], corpus_index.index_dir, env)
    assert "openai" in table.stdout and str(tokens_in) in table.stdout


@pytest.mark.slow
def test_a_backend_that_is_down_is_one_line_without_a_traceback(corpus_index, tmp_path):
    env = {"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
           "WAF_LLM_FALLBACKS": "[]", "WAF_LLM_MAX_RETRIES": "0", "WAF_USAGE_DB": str(tmp_path / "u.sqlite")}
    result = run(["ask", "How do I retry on 429?"], corpus_index.index_dir, env)
    assert result.returncode == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: no answer backend is available (openai: cannot connect")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_backend_that_is_down_falls_back_to_extractive_by_default(corpus_index, tmp_path):
    env = {"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
           "WAF_LLM_MAX_RETRIES": "0", "WAF_USAGE_DB": str(tmp_path / "u.sqlite")}
    result = run(["ask", "How do I retry on 429?"], corpus_index.index_dir, env)
    assert result.returncode == 0 and "Sources" in result.stdout
    assert "note: Answered by extractive because openai: cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_misconfigured_backend_is_a_clear_error(corpus_index):
    env = {"WAF_LLM_BACKEND": "azure-openai", "WAF_AZURE_OPENAI_ENDPOINT": "", "WAF_AZURE_OPENAI_DEPLOYMENT": ""}
    result = run(["ask", "anything"], corpus_index.index_dir, env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "needs WAF_AZURE_OPENAI_ENDPOINT and WAF_AZURE_OPENAI_DEPLOYMENT" in result.stderr


@pytest.mark.slow
def test_chat_streams_and_remembers_the_conversation(corpus_index, fake_openai, tmp_path):
    from tests.fake_openai import reply

    fake_openai.script(reply("- Deploy the model behind at least two regional endpoints [1]."),
                       reply("How do I keep inference available across regions at a lower cost?"))
    env = {"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": fake_openai.base_url,
           "WAF_USAGE_DB": str(tmp_path / "u.sqlite")}
    result = run(["chat"], corpus_index.index_dir, env, input="How do I keep inference available across regions?\nand for cost?\n\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\nSources\n") == 2
    assert fake_openai.count == 3  # answer, rewrite of the follow-up, answer
    assert all(r["body"].get("stream") for r in (fake_openai.requests[0], fake_openai.requests[2]))
    assert "at a lower cost?" in fake_openai.requests[2]["body"]["messages"][1]["content"]


@pytest.mark.slow
def test_the_default_path_never_imports_langchain_openai_or_tiktoken(corpus_index):
    code = (
        "import sys, app.cli\n"
        "from app.assistant import Assistant\n"
        "from core.settings import get_settings\n"
        "a = Assistant.open(get_settings())\n"
        "a.ask('How do I retry on 429?')\n"
        "print(sorted(m for m in ('tiktoken', 'langchain_openai', 'openai') if m in sys.modules))\n"
    )
    env = {**os.environ, "WAF_INDEX_DIR": str(corpus_index.index_dir)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
