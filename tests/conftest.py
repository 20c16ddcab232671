"""Shared fixtures: the real packaged MiniLM model, real FAISS indexes built from the fixture files."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from app.assistant import Assistant
from core.embeddings import SentenceEmbedder
from core.offline import apply_offline_defaults
from core.settings import Settings
from ingest.pipeline import run_ingest

# The default relevance threshold is calibrated on the real corpus and golden set (python -m eval.calibrate_relevance).
# The 14-file fixture corpus sits on another similarity scale; its own threshold holds for every test,
# in-process and in the subprocesses the tests start.
FIXTURE_RELEVANCE_THRESHOLD = "0.30"


def pytest_configure(config):
    apply_offline_defaults()
    os.environ["WAF_RELEVANCE_THRESHOLD"] = FIXTURE_RELEVANCE_THRESHOLD
    # State the tests write (the database, and no files of earlier versions to import) stays out of the checkout;
    # tests that look at it set their own.
    state = Path(tempfile.mkdtemp(prefix="waf-test-state-"))
    os.environ.setdefault("WAF_DATA_DIR", str(state / "data"))
    os.environ.setdefault("WAF_FEEDBACK_DB", str(state / "no-legacy-feedback.sqlite"))
    os.environ.setdefault("WAF_USAGE_DB", str(state / "no-legacy-usage.sqlite"))


FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_CORPUS = FIXTURES / "corpus"
FIXTURE_DOCFX = FIXTURES / "docfx" / "well-architected"


@pytest.fixture(scope="session")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def make_settings(index_dir: Path, **overrides) -> Settings:
    # sentence-transformers unless a test says otherwise: an ONNX export per test index would cost a model load
    # and 90 MB each (tests/test_onnx_encoder.py covers that path).
    overrides.setdefault("embedding_runtime", "torch")
    return Settings(_env_file=None, index_dir=index_dir, corpus_paths=[FIXTURE_CORPUS], **overrides)


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, embedder) -> Settings:
    """The fixture corpus plus the DocFX sample, ingested once for the whole run."""
    settings = make_settings(tmp_path_factory.mktemp("index") / "index")
    run_ingest(settings, paths=[FIXTURE_CORPUS, FIXTURE_DOCFX], embedder=embedder, show_progress=False)
    return settings


@pytest.fixture(scope="session")
def assistant(corpus_index, embedder) -> Assistant:
    return Assistant.open(corpus_index, embedder)


@pytest.fixture
def fake_openai():
    """A local OpenAI-compatible server on 127.0.0.1 (tests/fake_openai.py), stopped after the test."""
    from tests.fake_openai import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the fixture corpus, for tests that change files."""
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, target)
    return target


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Lets fixtures see whether their test failed (the browser test saves a screenshot then)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.failed = True
