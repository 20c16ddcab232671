"""The ingest job on real files, the real model and real FAISS: incremental, atomic, and clear about bad input."""
import json
import subprocess
import sys

import pytest

from core.documents import CHUNKING_VERSION
from index.faiss.store import ModelMismatch, load_index, read_manifest
from ingest.pipeline import IngestInputError, run_ingest
from tests.conftest import make_settings


def test_build_writes_faiss_chunks_and_manifest(corpus_index):
    stored = load_index(corpus_index.index_dir, corpus_index.embedding_model)
    manifest = stored.manifest
    assert stored.vectors.ntotal == len(stored.chunks) == manifest["chunk_count"] > 14
    assert manifest["embedding_model"] == corpus_index.embedding_model
    assert manifest["embedding_dimension"] == stored.vectors.d == 384
    assert manifest["chunking"] == {
        "max_tokens": 254, "overlap_tokens": corpus_index.chunk_overlap_tokens, "version": CHUNKING_VERSION
    }
    assert "corpus/security/content-safety.md" in manifest["files"]
    assert all(len(f["hash"]) == 64 for f in manifest["files"].values())
    assert not list(stored.path.rglob("*.pkl")) and not list(stored.path.rglob("*.pickle"))


def test_vectors_are_normalized(corpus_index):
    import numpy as np

    vectors = load_index(corpus_index.index_dir).vectors_array()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_reingest_of_unchanged_files_embeds_nothing(tmp_path, corpus_copy, embedder):
    settings = make_settings(tmp_path / "index")
    first = run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    assert first.embedded_chunks == first.chunks > 0

    class NoEmbedding:
        def __getattr__(self, name):
            raise AssertionError("an unchanged re-ingest must not touch the model")

    second = run_ingest(settings, paths=[corpus_copy], embedder=NoEmbedding(), show_progress=False)
    assert second.unchanged and second.embedded_chunks == 0 and second.chunks == first.chunks


def test_changed_file_replaces_its_chunks_and_deleted_file_drops_them(tmp_path, corpus_copy, embedder):
    settings = make_settings(tmp_path / "index")
    run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    changed = corpus_copy / "cost" / "ptu-vs-paygo.md"
    changed.write_text(changed.read_text().replace("PTU deployments suit", "Reserved PTU capacity suits"))
    (corpus_copy / "operations" / "drift.md").unlink()

    summary = run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    assert (summary.embedded_files, summary.removed_files) == (1, 1)
    assert summary.reused_files == summary.files - 1
    stored = load_index(settings.index_dir)
    texts = " ".join(c.text for c in stored.chunks)
    assert "Reserved PTU capacity suits" in texts and "PTU deployments suit" not in texts
    assert not any(c.source_key.endswith("drift.md") for c in stored.chunks)
    assert "corpus/operations/drift.md" not in stored.manifest["files"]


def test_failure_mid_build_leaves_the_previous_index_loadable(tmp_path, corpus_copy, embedder, monkeypatch):
    settings = make_settings(tmp_path / "index")
    run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    before = load_index(settings.index_dir)
    (corpus_copy / "security" / "content-safety.md").write_text(
        "---\ntitle: Changed\npillars: [security]\ntopics: [x]\n---\n# Changed\n\nNew text about jailbreaks.\n"
    )

    import index.faiss.store

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while writing vectors")

    monkeypatch.setattr(index.faiss.store.faiss, "write_index", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    monkeypatch.undo()

    after = load_index(settings.index_dir)
    assert after.path == before.path
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert not [p for p in (settings.index_dir / "versions").iterdir() if p.name.endswith(".partial")]


@pytest.mark.slow
def test_killed_ingest_leaves_the_previous_index_loadable(tmp_path, corpus_copy, embedder):
    """A real process killed while embedding: the live index is untouched."""
    settings = make_settings(tmp_path / "index")
    run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    before = read_manifest(settings.index_dir)["version"]
    for i in range(200):
        (corpus_copy / f"extra-{i}.md").write_text(f"# Extra {i}\n\n" + "More words about model hosting. " * 60)
    env = {"WAF_INDEX_DIR": str(settings.index_dir), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(corpus_copy)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    for line in process.stdout:  # wait until embedding has begun, then kill it mid-batch
        if b"Batches" in line or b"%" in line:
            break
    process.kill()
    process.wait()
    assert read_manifest(settings.index_dir)["version"] == before
    assert load_index(settings.index_dir).vectors.ntotal > 0


def test_opening_with_another_model_fails_clearly(corpus_index):
    with pytest.raises(ModelMismatch, match="built with embedding model .* Rebuild it"):
        load_index(corpus_index.index_dir, "sentence-transformers/some-other-model")


def test_malformed_file_is_skipped_with_its_name_and_the_rest_ingested(tmp_path, corpus_copy, embedder):
    (corpus_copy / "broken.md").write_text("---\npillars: [unclosed\n---\n# Broken\n")
    (corpus_copy / "empty.md").write_text("")
    summary = run_ingest(make_settings(tmp_path / "index"), paths=[corpus_copy], embedder=embedder, show_progress=False)
    assert any("broken.md" in s and "malformed front matter" in s for s in summary.skipped)
    assert any("empty.md" in s for s in summary.skipped)
    assert summary.embedded_files == summary.files - 2
    assert any("skipped: 2" == line for line in summary.lines())


def test_missing_or_empty_path_is_bad_input(tmp_path, embedder):
    settings = make_settings(tmp_path / "index")
    with pytest.raises(IngestInputError, match="path not found"):
        run_ingest(settings, paths=[tmp_path / "nope"], embedder=embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestInputError, match="no supported files"):
        run_ingest(settings, paths=[tmp_path / "empty"], embedder=embedder)


@pytest.mark.slow
def test_cli_exit_code_2_and_message_for_missing_path(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ingest", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "error: path not found" in result.stderr and "Traceback" not in result.stderr


def test_docfx_tree_chunks_cite_learn_urls_with_anchors(corpus_index):
    chunks = [c for c in load_index(corpus_index.index_dir).chunks if c.source_key.startswith("well-architected/")]
    urls = {c.url for c in chunks}
    assert "https://learn.microsoft.com/azure/well-architected/ai/sample-inference#protect-the-inference-endpoint" in urls
    security = [c for c in chunks if c.source_key == "well-architected/security/sample-identity.md"]
    assert security and all(c.pillars == ["security"] for c in security)
    heading_tagged = [c for c in chunks if c.heading_path[-1] == "Security"]
    assert heading_tagged and heading_tagged[0].pillars == ["security"]
    assert json.dumps([c.to_dict() for c in chunks])  # plain data all the way down


def test_incremental_reingest_keeps_sentence_vectors_aligned(tmp_path, corpus_copy, embedder):
    import numpy as np

    from core.text import split_sentences

    settings = make_settings(tmp_path / "index")
    run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    changed = corpus_copy / "security" / "network-isolation.md"
    changed.write_text(changed.read_text() + "\nAlso restrict outbound traffic from the orchestrator to known hosts.\n")
    run_ingest(settings, paths=[corpus_copy], embedder=embedder, show_progress=False)
    stored = load_index(settings.index_dir)
    for position, chunk in enumerate(stored.chunks):
        expected = embedder.encode(split_sentences(chunk.text))
        assert np.allclose(stored.sentences.for_chunk(position), expected, atol=1e-4), chunk.source_key
