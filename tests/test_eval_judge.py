"""The LLM judge of the evaluation (ragas Faithfulness, ResponseRelevancy, LLMContextRecall through ragas'
langchain wrappers), against tests/fake_openai.py on 127.0.0.1: the fake answers ragas' judge prompts with
schema-valid JSON whose verdicts the test sets, so the scores are known in advance. No network: every
socket connection to anything but the loopback is refused and recorded, and tiktoken's encoding loaders
(which would download) fail if called."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eval.golden import load_golden
from eval.runner import run_questions, summarise
from tests.conftest import FIXTURE_CORPUS, FIXTURES, make_settings

GOLDEN = FIXTURES / "golden-mini.jsonl"
JUDGED = {"faithfulness", "answer_relevancy", "context_recall"}
REPO = Path(__file__).resolve().parent.parent
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def offline_guard(monkeypatch):
    """Records (and refuses) a connection to anything but the loopback, and any tiktoken encoding load."""
    import tiktoken

    seen = {"remote": [], "tiktoken": []}
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def remote(address) -> bool:
        return isinstance(address, tuple) and str(address[0]) not in LOOPBACK

    def connect(self, address):
        if remote(address):
            seen["remote"].append(address)
            raise OSError("network refused by the test")
        return real_connect(self, address)

    def connect_ex(self, address):
        if remote(address):
            seen["remote"].append(address)
            raise OSError("network refused by the test")
        return real_connect_ex(self, address)

    def forbidden(*args, **kwargs):
        seen["tiktoken"].append(args)
        raise AssertionError("tiktoken was called: it downloads encodings")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(tiktoken, "get_encoding", forbidden)
    monkeypatch.setattr(tiktoken, "encoding_for_model", forbidden)
    yield seen
    assert seen == {"remote": [], "tiktoken": []}


@pytest.fixture(scope="module")
def extractive_results(assistant):
    return run_questions(assistant, load_golden(GOLDEN))


def judged(extractive_results, embedder, fake, verdict, tmp_path):
    """Fresh copies of the extractive answers, scored with the judge pointed at the fake server
    (WAF_LLM_BACKEND=openai, WAF_OPENAI_BASE_URL=http://127.0.0.1:PORT/v1, WAF_EVAL_JUDGE=llm)."""
    import copy

    from eval.ragas_eval import score_with_ragas
    from eval.ragas_judge import make_judge

    results = copy.deepcopy(extractive_results)
    for r in results:
        r.ragas = {}
    fake.judge_verdict = verdict
    settings = make_settings(tmp_path, llm_backend="openai", openai_base_url=fake.base_url, eval_judge="llm")
    judge = make_judge(settings)
    score_with_ragas(results, embedder, {}, judge=judge)
    return results, judge


def answered(results):
    return [r for r in results if r.question.answerable and not r.refused]


def test_every_statement_supported_scores_one(extractive_results, embedder, fake_openai, offline_guard, tmp_path):
    from tests.fake_openai import judge_question, judge_statements

    results, judge = judged(extractive_results, embedder, fake_openai, 1, tmp_path)
    scored = answered(results)
    assert len(scored) == 2
    for r in scored:
        assert JUDGED <= set(r.ragas)
        assert r.ragas["faithfulness"] == 1.0
        assert r.ragas["context_recall"] == 1.0
        # answer_relevancy = cosine(question, question the judge generated), with our MiniLM embeddings
        body = r.answer_text
        vectors = embedder.encode([r.question.question, judge_question(body)])
        assert r.ragas["answer_relevancy"] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)
        assert 0.0 < r.ragas["answer_relevancy"] <= 1.0
    assert all(not r.ragas for r in results if not r.question.answerable)

    # what the judge was asked: per answer two faithfulness prompts, three sampled questions (three requests,
    # not n=3), one context-recall prompt; nothing else was sent
    kinds = [kind for kind, _ in fake_openai.judged]
    assert sorted(kinds) == sorted(["statements", "nli", "question", "question", "question", "context_recall"] * 2)
    assert fake_openai.count == len(kinds) == 12
    assert all(r["path"] == "/v1/chat/completions" and r["body"].get("n") in (None, 1) for r in fake_openai.requests)
    by_question = {r.question.question: r for r in scored}
    for kind, data in fake_openai.judged:
        if kind == "statements":
            r = by_question[data["question"]]
            assert data["answer"] == r.answer_text  # the answer body: sources are kept apart
        if kind == "nli":  # the statements come back with the retrieved passages as context
            r = next(r for r in scored if data["statements"] == judge_statements(r.answer_text))
            assert data["context"] == "\n".join(r.retrieved_contexts)
        if kind == "context_recall":  # the golden reference against the retrieved passages
            r = by_question[data["question"]]
            assert data["answer"] == r.question.reference and data["context"] == "\n".join(r.retrieved_contexts)
    assert judge.unscored == {"faithfulness": 0, "answer_relevancy": 0, "context_recall": 0}

    summary = summarise(results)  # the judge's metrics flow into the summary and the per-pillar table
    assert summary["ragas"]["faithfulness"] == 1.0 and summary["ragas"]["context_recall"] == 1.0
    assert all(JUDGED <= set(row) for row in summary["per_pillar"].values())


def test_no_statement_supported_scores_zero(extractive_results, embedder, fake_openai, offline_guard, tmp_path):
    results, _ = judged(extractive_results, embedder, fake_openai, 0, tmp_path)
    for r in answered(results):
        assert (r.ragas["faithfulness"], r.ragas["context_recall"], r.ragas["answer_relevancy"]) == (0.0, 0.0, 0.0)
    assert summarise(results)["ragas"]["faithfulness"] == 0.0
    assert fake_openai.count == 12


def test_scores_are_the_share_of_supported_statements(extractive_results, embedder, fake_openai, offline_guard,
                                                      tmp_path):
    from tests.fake_openai import judge_statements

    def about_retries(statement: str) -> int:  # the judge supports only what mentions retries
        return int("retry" in statement.lower())

    results, _ = judged(extractive_results, embedder, fake_openai, about_retries, tmp_path)
    faithfulness = {}
    for r in answered(results):
        statements = judge_statements(r.answer_text)
        faithfulness[r.question.id] = r.ragas["faithfulness"]
        assert r.ragas["faithfulness"] == pytest.approx(sum(map(about_retries, statements)) / len(statements))
        assert r.ragas["context_recall"] == about_retries(r.question.reference)
        assert (r.ragas["answer_relevancy"] > 0) == bool(about_retries(r.answer_text))
    assert faithfulness == {"m1": 0.0, "m2": pytest.approx(1 / 3)}  # 1 of the 3 statements of m2's answer


def test_a_judge_that_scores_nothing_stops_the_run(extractive_results, embedder, fake_openai, offline_guard, tmp_path):
    from eval.ragas_judge import JudgeError
    from tests.fake_openai import status

    fake_openai.script(*[status(400) for _ in range(40)])  # every judge call fails (not retried: not a 429)
    with pytest.raises(JudgeError, match="scored none of the 2 answers for faithfulness"):
        judged(extractive_results, embedder, fake_openai, 1, tmp_path)
    assert fake_openai.count == 10  # per answer: statements, three questions, context recall; no NLI


def test_judge_settings(tmp_path):
    from app.llm.resilience import BackendConfigError
    from eval.ragas_judge import make_judge

    assert make_judge(make_settings(tmp_path)) is None  # default: no judge
    with pytest.raises(BackendConfigError, match="needs a chat model"):
        make_judge(make_settings(tmp_path, eval_judge="llm"))  # the answer backend is extractive
    # a judge backend named outright, while the extractive answerer answers; never the fallbacks
    judge = make_judge(make_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1", llm_fallbacks=["extractive"]),
                       "openai")
    assert (judge.backend.kind, judge.backend.location) == ("openai", "http://127.0.0.1:9/v1")
    azure = make_settings(tmp_path, llm_backend="azure-openai", azure_openai_endpoint="https://x.openai.azure.com",
                          azure_openai_deployment="judge", azure_openai_api_key="k", eval_judge="llm")
    assert make_judge(azure).backend.model_name == "judge"


def test_eval_judge_flag_without_a_chat_model_is_a_clear_error(monkeypatch, capsys, tmp_path):
    from core.settings import get_settings
    from eval.__main__ import main

    monkeypatch.setenv("WAF_LLM_BACKEND", "extractive")
    monkeypatch.setenv("WAF_INDEX_DIR", str(tmp_path / "index"))  # never the repo's index, even if this failed
    monkeypatch.setenv("WAF_CORPUS_PATHS", json.dumps([str(FIXTURE_CORPUS)]))
    get_settings.cache_clear()
    try:
        assert main(["--judge", "--out", str(tmp_path)]) == 2
    finally:
        get_settings.cache_clear()
    assert "error: the LLM judge needs a chat model" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


# -- `python -m eval` in a subprocess, with the same guards ------------------------------------------------
HARNESS = textwrap.dedent(
    """
    import json, socket, sys
    import tiktoken
    seen = {"remote": [], "tiktoken": []}
    real_connect = socket.socket.connect
    def connect(self, address):
        if isinstance(address, tuple) and str(address[0]) not in ("127.0.0.1", "::1", "localhost"):
            seen["remote"].append(str(address))
            raise OSError("network refused by the test")
        return real_connect(self, address)
    socket.socket.connect = connect
    def forbidden(*args, **kwargs):
        seen["tiktoken"].append(str(args))
        raise AssertionError("tiktoken was called")
    tiktoken.get_encoding = tiktoken.encoding_for_model = forbidden
    from eval.__main__ import main
    rc = main(sys.argv[1:])
    print("HARNESS " + json.dumps({
        "rc": rc, **seen, "judge_module": "eval.ragas_judge" in sys.modules,
        "chat_models": "langchain_openai" in sys.modules and any(
            type(o).__name__ in ("ChatOpenAI", "AzureChatOpenAI") for o in __import__("gc").get_objects()),
    }))
    """
)


def run_eval(tmp_path: Path, args: list[str], env: dict | None = None) -> tuple[dict, dict, str]:
    out = tmp_path / "results"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAF_")}, "PYTHONPATH": str(REPO),
        "WAF_INDEX_DIR": str(tmp_path / "index"), "WAF_CORPUS_PATHS": json.dumps([str(FIXTURE_CORPUS)]),
        "WAF_USAGE_DB": str(tmp_path / "usage.sqlite"), **(env or {}),
    }
    command = [sys.executable, "-c", HARNESS, "--golden", str(GOLDEN), "--no-ablation", "--out", str(out),
               "--thresholds", str(tmp_path / "no-thresholds.toml"), *args]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=full_env, cwd=tmp_path,
                            timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("HARNESS ")]
    assert lines, result.stdout[-2000:] + result.stderr[-4000:]
    harness = json.loads(lines[-1].removeprefix("HARNESS "))
    report = json.loads((out / "latest.json").read_text()) if (out / "latest.json").is_file() else {}
    return harness, report, (out / "latest.md").read_text() if (out / "latest.md").is_file() else ""


@pytest.mark.slow
def test_the_default_evaluation_has_no_judge_no_network_and_no_tiktoken(tmp_path):
    """Without a judge nothing builds a chat model or touches the network, and no tiktoken encoding is loaded.
    (ragas 0.4.3 itself imports openai, langchain_openai and tiktoken when it is imported, so those modules
    are loaded by any ragas evaluation; importing them downloads nothing.)"""
    harness, report, markdown = run_eval(tmp_path, [])
    assert harness["rc"] == 0
    assert harness["remote"] == [] and harness["tiktoken"] == []
    assert harness["judge_module"] is False and harness["chat_models"] is False
    assert report["judge"] is None and not JUDGED & set(report["summary"]["ragas"])
    assert "cited_groundedness" in report["summary"]["ragas"] and "LLM judge" not in markdown


@pytest.mark.slow
def test_python_m_eval_judge_scores_with_the_configured_backend(tmp_path, fake_openai):
    env = {"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": fake_openai.base_url, "WAF_OPENAI_MODEL": "fake-judge"}
    # the judge is the subject here: the official-docs section (minutes of indexing, no judge) is left out
    harness, report, markdown = run_eval(tmp_path, ["--judge", "--no-official"], env)
    assert harness["rc"] == 0
    assert harness["remote"] == [] and harness["tiktoken"] == []
    assert report["judge"]["kind"] == "openai" and report["judge"]["model"] == "fake-judge"
    assert report["judge"]["unscored"] == {"faithfulness": 0, "answer_relevancy": 0, "context_recall": 0}
    ragas = report["summary"]["ragas"]
    assert ragas["faithfulness"] == 1.0 and ragas["context_recall"] == 1.0 and 0.0 < ragas["answer_relevancy"] <= 1.0
    assert all(JUDGED <= set(row) for row in report["summary"]["per_pillar"].values())
    assert "| ragas faithfulness | 1.000 |" in markdown and "LLM judge (faithfulness" in markdown
    # the same server answered the questions (WAF_LLM_BACKEND=openai) and judged the answers
    kinds = {kind for kind, _ in fake_openai.judged}
    assert kinds == {"statements", "nli", "question", "context_recall"}
    assert fake_openai.count > len(fake_openai.judged) > 0
    assert all(r["body"]["model"] == "fake-judge" for r in fake_openai.requests)
