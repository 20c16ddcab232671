"""The shipped knowledge base and evaluation data: well-formed, linked to official guidance, consistent."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from app.review.checklist import load_checklist
from core.pillars import PILLARS
from eval.golden import load_golden
from ingest.corpus_check import front_matter_problems, read_front_matter, sentences_about_a_page

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DESIGNS = ROOT / "eval" / "designs"
LEARN = "https://learn.microsoft.com/azure/well-architected/"
CORPUS_FILES = sorted(CORPUS.rglob("*.md"))


def test_the_corpus_covers_ai_design_areas_and_every_pillar():
    assert len(CORPUS_FILES) >= 150
    pillars = Counter(p for f in CORPUS_FILES for p in read_front_matter(f)["pillars"])
    assert set(pillars) == set(PILLARS) and min(pillars.values()) >= 15
    folders = {f.relative_to(CORPUS).parts[0] for f in CORPUS_FILES}
    assert {"ai", "pillars"} <= folders


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_has_valid_front_matter(path):
    meta = read_front_matter(path)
    assert front_matter_problems(meta) == []
    assert meta["source_url"].startswith(LEARN) and "#" in meta["source_url"]
    assert all(p in PILLARS for p in meta["pillars"])
    words = len(path.read_text(encoding="utf-8").split())
    assert 60 <= words <= 600, f"{words} words: a corpus file is read in about a minute"


def test_the_checklist_has_sixty_valid_items_across_pillars():
    items = load_checklist(CORPUS / "checklist" / "review-checklist.yaml")
    assert len(items) >= 60
    pillars = Counter(i.pillar for i in items)
    assert set(pillars) == {*PILLARS, "responsible-ai", "data-governance"}
    assert all(i.source_url.startswith(LEARN) and "#" in i.source_url for i in items)


def test_the_golden_set_is_broad_and_well_formed():
    questions = load_golden(ROOT / "eval" / "golden.jsonl")
    assert len(questions) >= 80 and len({q.id for q in questions}) == len(questions)
    unanswerable = [q for q in questions if not q.answerable]
    assert len(unanswerable) >= 10 and all(not q.gold_urls for q in unanswerable)
    for q in questions:
        if q.answerable:
            assert q.gold_urls and all(u.startswith(LEARN) and "#" in u for u in q.gold_urls), q.id
            assert 3 <= len(q.key_facts) <= 6 and q.reference and q.pillars, q.id
    assert {p for q in questions for p in q.pillars} == set(PILLARS)


def test_expected_findings_name_real_designs_and_checklist_items():
    items = {i.id: i for i in load_checklist(CORPUS / "checklist" / "review-checklist.yaml")}
    rows = [json.loads(line) for line in (DESIGNS / "expected.jsonl").read_text().splitlines() if line.strip()]
    designs = {r["design"] for r in rows}
    assert len(designs) >= 4 and all((DESIGNS / d).is_file() for d in designs)
    for row in rows:
        item = items[row["item_id"]]
        assert (row["pillar"], row["severity"]) == (item.pillar, item.severity)
        assert row["expected"] in {"missing", "partial", "addressed"}


@pytest.mark.slow
def test_pdf_and_docx_designs_are_reproduced_by_the_script(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "eval.make_design_formats", "--out", str(tmp_path), "--check"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    from eval.make_design_formats import JOBS

    assert len(JOBS) >= 6
    for folder, _, name in JOBS:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name


def test_coverage_table_covers_every_official_ai_section_with_existing_files():
    import re

    table = (ROOT / "eval" / "coverage.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| [ai/")]
    assert len(rows) >= 70 and "not covered" not in table
    linked = re.findall(r"\]\(\.\./(corpus/[^)]+\.md)\)", table)
    assert linked and all((ROOT / path).is_file() for path in linked)


def test_coverage_table_is_current_when_the_official_docs_are_here(tmp_path):
    from eval.coverage import main as coverage

    docs = ROOT.parent / "shared" / "waf-docs" / "well-architected"
    if not docs.is_dir():
        pytest.skip("the official docs are not beside the repo (CI checks them when they are)")
    assert coverage(["--docs", str(docs), "--out", str(tmp_path / "coverage.md")]) == 0
    assert (tmp_path / "coverage.md").read_text() == (ROOT / "eval" / "coverage.md").read_text()


def test_every_corpus_sentence_states_guidance_not_what_a_page_covers():
    import re

    about_a_page = re.compile(r"\bthis (?:page|section|article|guide) (?:covers|describes|explains|provides|outlines|summari[sz]es)\b", re.I)
    offenders = [str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.md") if about_a_page.search(p.read_text(encoding="utf-8"))]
    assert not offenders, offenders


def test_every_corpus_sentence_states_guidance_not_what_the_page_holds():
    body = "Chunk on headings. This page lists when to rebuild the index.\n- The following sections compare two options."
    assert sentences_about_a_page(body) == ["This page lists", "The following sections compare"]
    assert sentences_about_a_page("Rebuild the index when the schema changes; the page size of results is 50.") == []
    about = {f.name: found for f in CORPUS_FILES if (found := sentences_about_a_page(f.read_text(encoding="utf-8")))}
    assert about == {}
