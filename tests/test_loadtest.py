"""The load test's runner, for a few seconds with two users: it starts `waf-assistant serve` on the fixture index,
runs locust against /ask, streamed /chat and /review, stops everything, and checks the server's database for
every conversation turn it acknowledged; in flaky mode the LLM is tests/fake_openai.py refusing half of its calls."""
import json
import os
import subprocess
import sys

import pytest

from core.settings import PROJECT_ROOT

ENDPOINTS = ("/ask", "/chat (stream)", "/review")


def run_load(corpus_index, tmp_path, llm: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / f"loadtest-{llm}.json"
    env = {**os.environ, "WAF_INDEX_DIR": str(corpus_index.index_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "eval.loadtest", "--users", "2", "--duration", "6", "--llm", llm, "--out", str(out)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert out.is_file(), done.stderr[-3000:]
    return done, json.loads(out.read_text())


@pytest.mark.slow
def test_default_mode_serves_every_endpoint_and_loses_no_write(corpus_index, tmp_path):
    done, report = run_load(corpus_index, tmp_path, "extractive")
    assert done.returncode == 0, report["problems"]
    assert report["ok"] and report["status_5xx"] == 0 and report["hung"] == 0
    for name in ENDPOINTS:
        assert report["endpoints"][name]["requests"] > 0, name
        assert set(report["endpoints"][name]["statuses"]) == {"200"}, report["endpoints"][name]
    writes = report["writes"]
    assert writes["conversation_turns_acknowledged"] > 0 and writes["lost"] == 0
    assert writes["messages"] == {"expected": 2 * writes["conversation_turns_acknowledged"],
                                  "found": 2 * writes["conversation_turns_acknowledged"]}
    assert report["answers"]["by_backend"].keys() == {"extractive"} and report["answers"]["fallbacks"] == 0
    assert "p95_ms" in report["endpoints"]["/review"] and report["throughput_per_second"] > 0
    assert json.loads(done.stdout)["requests"] == report["requests"]  # printed as well as written


@pytest.mark.slow
def test_flaky_llm_mode_still_answers_without_5xx(corpus_index, tmp_path):
    done, report = run_load(corpus_index, tmp_path, "flaky")
    assert done.returncode == 0, report["problems"]
    assert report["status_5xx"] == 0 and report["hung"] == 0 and report["broken_streams"] == 0
    assert all(report["endpoints"][name]["requests"] > 0 for name in ENDPOINTS)
    llm = report["llm"]
    injected = sum(llm["fake_server"]["injected"].values())
    # the fake refused about half of the calls, and the server saw each refusal as a failed call it recovered from
    assert injected > 0 and llm["failed"] == injected and llm["calls"] == llm["fake_server"]["requests"]
    answers = report["answers"]
    served = report["endpoints"]["/ask"]["statuses"].get("200", 0) + report["writes"]["conversation_turns_acknowledged"]
    assert answers["answers"] == served > 0
    assert sum(answers["by_backend"].values()) == served and set(answers["by_backend"]) <= {"openai", "extractive"}
    assert report["writes"]["lost"] == 0 and report["writes"]["messages"]["found"] > 0
