"""The embedding model's ONNX export: the same vectors as sentence-transformers, and a cold `ask` without torch."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.embeddings import SentenceEmbedder, resolve_model_path
from core.onnx_encoder import OnnxEncoder, export, needs_export
from core.settings import PACKAGED_MODEL
from ingest.pipeline import run_ingest
from tests.conftest import FIXTURE_CORPUS, make_settings

TEXTS = [
    "How do I retry on 429 from Azure OpenAI?",
    "PTU or PAYG?",
    "Managed identities for every service-to-service call; no keys are stored.",
    "word " * 400,  # past the model's 256-token limit: both must truncate the same way
    "",
    "Ünïcödé, emoji 🚀 and symbols <>&: still one vector each.",
]


@pytest.fixture(scope="module")
def exported(embedder, tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("encoders")
    assert needs_export(resolve_model_path(PACKAGED_MODEL), cache)
    path = export(embedder.model, resolve_model_path(PACKAGED_MODEL), cache)
    assert path is not None and path.exists() and not needs_export(resolve_model_path(PACKAGED_MODEL), cache)
    return cache


def test_the_export_gives_the_same_vectors_as_sentence_transformers(embedder, exported):
    onnx = OnnxEncoder.open(resolve_model_path(PACKAGED_MODEL), exported)
    expected = embedder.encode(TEXTS)
    got = onnx.encode(TEXTS, batch_size=4)  # batches mixing lengths: padding must not leak into the mean
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * expected).sum(axis=1).min() > 0.9999


def test_a_fresh_embedder_uses_the_export_and_the_torch_setting_does_not(exported):
    fresh = SentenceEmbedder(encoder_cache_dir=exported)
    fresh.encode(["a question"])
    assert fresh.onnx is not None and not fresh.loaded  # torch never loaded
    assert fresh.dimension == 384
    pinned = SentenceEmbedder(runtime="torch", encoder_cache_dir=exported)
    assert pinned.onnx is None


def test_a_damaged_export_falls_back_to_sentence_transformers(tmp_path, exported, caplog):
    damaged = tmp_path / "encoders"
    damaged.mkdir()
    for file in exported.glob("*.onnx"):
        (damaged / file.name).write_bytes(b"not an onnx model")
    fresh = SentenceEmbedder(encoder_cache_dir=damaged)
    vector = fresh.encode(["a question"])
    assert vector.shape == (1, 384) and fresh.loaded and fresh.onnx is None
    assert "cannot use the ONNX export" in caplog.text


def test_a_model_that_is_not_a_local_folder_is_not_exported(tmp_path):
    assert not needs_export("sentence-transformers/all-MiniLM-L6-v2", tmp_path)
    assert OnnxEncoder.open("sentence-transformers/all-MiniLM-L6-v2", tmp_path) is None


@pytest.mark.slow
def test_ingest_exports_the_model_and_a_cold_ask_answers_without_importing_torch(tmp_path):
    settings = make_settings(tmp_path / "index", embedding_runtime="auto", encoder_cache_dir=tmp_path / "encoders")
    run_ingest(settings, paths=[FIXTURE_CORPUS], show_progress=False)
    assert list((tmp_path / "encoders").glob("*.onnx"))

    class NoModel:
        def __getattr__(self, name):
            raise AssertionError("an unchanged re-ingest with the export in place must not touch the model")

    assert run_ingest(settings, paths=[FIXTURE_CORPUS], embedder=None, show_progress=False).unchanged
    assert run_ingest(settings, paths=[FIXTURE_CORPUS], embedder=NoModel(), show_progress=False).unchanged
    script = (
        "import json, sys\n"
        "from app.assistant import Assistant\n"
        "from core.settings import Settings\n"
        f"settings = Settings(_env_file=None, index_dir={str(tmp_path / 'index')!r},"
        f" encoder_cache_dir={str(tmp_path / 'encoders')!r})\n"
        "answer = Assistant.open(settings).ask('How should a workload handle 429 throttling from Azure OpenAI?')\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'sentence_transformers': 'sentence_transformers' in"
        " sys.modules, 'citations': len(answer.citations)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts == {"torch": False, "sentence_transformers": False, "citations": facts["citations"]}
    assert facts["citations"] >= 1


def test_ingest_encodes_with_the_export_it_writes_and_stores_the_vectors_torch_would(tmp_path, embedder):
    from core.text import split_sentences
    from index.faiss.store import load_index

    settings = make_settings(tmp_path / "index", embedding_runtime="auto", encoder_cache_dir=tmp_path / "encoders")
    fresh = SentenceEmbedder.from_settings(settings)
    fresh.encode(["loads torch first: no export exists yet"])
    assert fresh.onnx is None
    run_ingest(settings, paths=[FIXTURE_CORPUS], embedder=fresh, show_progress=False)
    assert fresh.onnx is not None  # the export written by this run encoded its chunks

    stored = load_index(settings.index_dir)
    texts = [c.embed_text for c in stored.chunks]
    assert (stored.vectors_array() * embedder.encode(texts)).sum(axis=1).min() > 0.9999
    sentences = [s for c in stored.chunks for s in split_sentences(c.text)]
    assert (stored.sentences.vectors * embedder.encode(sentences)).sum(axis=1).min() > 0.9999
