"""The installed console script, run as a user runs it."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("waf-assistant"))]


def run(args, index_dir, **kw):
    env = {**os.environ, "WAF_INDEX_DIR": str(index_dir)}
    return subprocess.run(CLI + args, capture_output=True, text=True, env=env, timeout=300, **kw)


@pytest.mark.slow
def test_ask_json_prints_the_answer_object(corpus_index):
    result = run(["ask", "Which network controls protect Azure OpenAI?", "--json"], corpus_index.index_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["citations"] and answer["citations"][0]["url"].startswith("https://learn.microsoft.com/")


@pytest.mark.slow
def test_ask_without_an_index_names_the_command_that_builds_it(tmp_path):
    result = run(["ask", "anything"], tmp_path / "none")
    assert result.returncode == 1
    assert "no index" in result.stderr and "waf-assistant ingest" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_info_summarises_the_manifest(corpus_index):
    result = run(["info"], corpus_index.index_dir)
    assert result.returncode == 0
    assert "packaged:all-MiniLM-L6-v2 (384 dims)" in result.stdout and "chunks:" in result.stdout


@pytest.mark.slow
def test_chat_answers_until_an_empty_line(corpus_index):
    result = run(["chat"], corpus_index.index_dir, input="What does SE:07 ask for?\n\n")
    assert result.returncode == 0
    assert "Sources" in result.stdout and "encryption#encrypt-data-at-rest" in result.stdout


@pytest.mark.slow
def test_ingest_rebuild_through_the_cli(tmp_path):
    from tests.conftest import FIXTURE_CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS / "cost", corpus)
    result = run(["ingest", str(corpus), "--rebuild"], tmp_path / "index")
    assert result.returncode == 0, result.stderr
    assert "files: 3 (3 embedded" in result.stdout and "index written to" in result.stdout
