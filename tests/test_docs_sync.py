"""`waf-assistant docs sync`: the official docs as a second source, fetched with git from a repository the test
builds on disk (no network), ingested incrementally beside the corpus, quoted with their license."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.answer import Citation
from app.cli import main as cli_main
from core.documents import OFFICIAL_DOCS_ATTRIBUTION, Chunk
from core.settings import get_settings
from ingest.corpus_check import check_corpus
from ingest.load import SourceFile, load_file
from tests.conftest import FIXTURE_CORPUS

LEARN = "https://learn.microsoft.com/azure/well-architected/"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SERVICE_GUIDE = """---
title: Architecture best practices for a sample queue
---
# Architecture best practices for a sample queue

## Reliability

### Workload design checklist

- Spread queue replicas across availability zones so one zone outage keeps messages flowing.

## Security

### Workload design checklist

- Authenticate producers with managed identities instead of shared access keys.

## Workload composition

### [**Training workload**](#tab/training)

Training jobs read checkpoints from a queue so an interrupted run resumes where it stopped.

# [Portal](#tab/portal)

::: zone pivot="portal"
Open the queue blade and turn on dead-lettering for poison messages.
::: zone-end
"""

PAGE_TWO = """---
title: Sample throttling guide
---
# Sample throttling guide

## Return 429 with Retry-After

Throttled callers should receive status 429 with a Retry-After header and back off before retrying.
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def docs_repo(tmp_path) -> Path:
    """A tiny MicrosoftDocs/well-architected: a well-architected/ folder, a redirection file, one commit."""
    repo = tmp_path / "upstream"
    pages = repo / "well-architected"
    (pages / "service-guides").mkdir(parents=True)
    (pages / "design-guides").mkdir()
    (pages / "service-guides" / "sample-queue.md").write_text(SERVICE_GUIDE)
    (pages / "design-guides" / "sample-throttling.md").write_text(PAGE_TWO)
    (repo / ".openpublishing.redirection.well-architected.json").write_text(json.dumps({"redirections": [
        {"source_path": "well-architected/service-guides/old-queue.md",
         "redirect_url": "/azure/well-architected/service-guides/sample-queue"},
    ]}))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "first")
    return repo


@pytest.fixture
def sync_env(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("WAF_DOCS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WAF_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("WAF_CORPUS_PATHS", json.dumps([str(FIXTURE_CORPUS)]))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_tab_and_repeated_headings_cite_the_nearest_heading_the_site_anchors(tmp_path):
    page = tmp_path / "well-architected" / "service-guides" / "sample-queue.md"
    page.parent.mkdir(parents=True)
    page.write_text(SERVICE_GUIDE)
    document = load_file(SourceFile(page, tmp_path / "well-architected"))
    url_of = {s.text.split()[1]: s.url for s in document.sections}
    base = LEARN + "service-guides/sample-queue"
    assert url_of["Spread"] == base + "#reliability"  # not the repeated "#workload-design-checklist"
    assert url_of["Authenticate"] == base + "#security"
    assert url_of["jobs"] == base + "#workload-composition"  # a tab heading has no anchor of its own
    assert url_of["the"] == base  # zone pivot text is kept; its tab sits right under the page title
    assert not any("#tab" in s.url or "training-workload" in s.url for s in document.sections)


def test_sync_clones_ingests_beside_the_corpus_and_answers_cite_the_docs_with_their_license(
    docs_repo, sync_env, capsys
):
    assert cli_main(["docs", "sync", "--repo", str(docs_repo), "--ref", "main"]) == 0
    out = capsys.readouterr().out
    assert "(first sync)" in out and "CC BY 4.0" in out
    assert "files: 16 (16 embedded" in out  # the 14 corpus files and the 2 official pages

    capsys.readouterr()
    assert cli_main(["ask", "How should a throttled caller use the Retry-After header of a 429?"]) == 0
    answer = capsys.readouterr().out
    assert LEARN + "design-guides/sample-throttling#return-429-with-retry-after (Microsoft Learn, CC BY 4.0)" in answer
    assert answer.count(OFFICIAL_DOCS_ATTRIBUTION) == 1


def test_a_second_sync_fetches_the_new_commit_and_re_embeds_only_what_changed(docs_repo, sync_env, capsys):
    assert cli_main(["docs", "sync", "--repo", str(docs_repo)]) == 0
    pages = docs_repo / "well-architected"
    (pages / "design-guides" / "sample-throttling.md").write_text(PAGE_TWO.replace("back off", "wait and back off"))
    (pages / "service-guides" / "sample-queue.md").unlink()
    git(docs_repo, "add", "-A")
    git(docs_repo, "commit", "--quiet", "-m", "second")
    capsys.readouterr()

    assert cli_main(["docs", "sync", "--repo", str(docs_repo)]) == 0
    out = capsys.readouterr().out
    assert "2 files changed" in out
    assert "files: 15 (1 embedded, 14 unchanged, 1 removed)" in out

    assert cli_main(["docs", "sync", "--repo", str(docs_repo)]) == 0
    out = capsys.readouterr().out
    assert "already up to date" in out and "index unchanged" in out


def test_bad_repositories_and_foreign_folders_are_clear_errors_that_touch_nothing(tmp_path, sync_env, capsys):
    assert cli_main(["docs", "sync", "--repo", str(tmp_path / "nowhere")]) == 2
    assert "error: could not fetch 'main' from" in capsys.readouterr().err

    empty_repo = tmp_path / "not-docs"
    (empty_repo / "src").mkdir(parents=True)
    (empty_repo / "src" / "x.md").write_text("# x\n")
    git(empty_repo, "init", "--quiet", "--initial-branch=main")
    git(empty_repo, "add", "-A")
    git(empty_repo, "commit", "--quiet", "-m", "x")
    assert cli_main(["docs", "sync", "--repo", str(empty_repo)]) == 2
    assert "has no well-architected/ folder" in capsys.readouterr().err

    get_settings.cache_clear()
    someone_elses = tmp_path / "notes"
    someone_elses.mkdir()
    (someone_elses / "keep.txt").write_text("mine")
    import os

    os.environ["WAF_DOCS_CACHE_DIR"] = str(someone_elses)
    assert cli_main(["docs", "sync", "--repo", str(empty_repo)]) == 2
    assert "is not empty and is not a docs sync clone" in capsys.readouterr().err
    assert (someone_elses / "keep.txt").read_text() == "mine" and not (someone_elses / ".git").exists()


def test_the_corpus_check_names_the_new_address_of_a_moved_page(docs_repo, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "queue.md").write_text(
        "---\ntitle: Queue zones\npillars: [reliability]\ntopics: [queues]\n"
        f"source_url: {LEARN}service-guides/old-queue#reliability\n---\nSpread replicas across zones.\n"
    )
    report = check_corpus(corpus, docs_repo / "well-architected")
    assert report.problems == [
        f"queue.md: cited page moved to {LEARN}service-guides/sample-queue: {LEARN}service-guides/old-queue#reliability"
    ]


def test_only_citations_of_the_official_docs_carry_the_license():
    def chunk(source_key: str) -> Chunk:
        return Chunk("id", source_key, "T", ["T", "S"], LEARN + "ai/x#s", "text", "text", [], [], "h")

    official = Citation.from_chunk(1, chunk("well-architected/ai/x.md"))
    ours = Citation.from_chunk(2, chunk("corpus/ai/x.md"))
    assert official.official_docs and official.source_line.endswith("(Microsoft Learn, CC BY 4.0)")
    assert not ours.official_docs and ours.source_line.endswith("ai/x#s")
