"""Loading DocFX Markdown as learn.microsoft.com publishes it, our front-matter corpus, PDF and DOCX."""

import pytest

from ingest.load import SourceFile, UnreadableFile, load_file
from tests.conftest import FIXTURE_CORPUS, FIXTURE_DOCFX

LEARN = "https://learn.microsoft.com/azure/well-architected/"


@pytest.fixture(scope="module")
def docfx_page():
    return load_file(SourceFile(FIXTURE_DOCFX / "ai" / "sample-inference.md", FIXTURE_DOCFX))


def all_text(document) -> str:
    return "\n".join(section.text for section in document.sections)


def test_title_comes_from_front_matter(docfx_page):
    assert docfx_page.title == "Sample inference platform guidance"


def test_title_falls_back_to_first_h1(tmp_path):
    page = tmp_path / "well-architected" / "ai" / "page.md"
    page.parent.mkdir(parents=True)
    page.write_text("# Heading one title\n\nBody text of the page.\n")
    assert load_file(SourceFile(page, tmp_path / "well-architected")).title == "Heading one title"


def test_image_blocks_are_dropped_and_callout_text_kept(docfx_page):
    text = all_text(docfx_page)
    assert ":::" not in text and "Diagram of a made-up" not in text
    assert "A long description of the diagram" not in text
    assert "Note: Rotate any remaining API keys" in text
    assert "Risk: A public endpoint with a shared key" in text.replace("**", "")


def test_includes_are_inlined_and_missing_includes_survive(docfx_page):
    text = all_text(docfx_page)
    assert "Included text: log every call to the inference endpoint" in text
    assert "[!INCLUDE" not in text and "does-not-exist" not in text


def test_relative_links_keep_their_text_only(docfx_page):
    text = all_text(docfx_page)
    assert "See the identity guide for the wider picture." in text
    assert "../security" not in text


def test_each_section_cites_its_learn_page_and_heading_anchor(docfx_page):
    urls = {section.heading_path[-1]: section.url for section in docfx_page.sections}
    page = LEARN + "ai/sample-inference"
    assert urls["Sample inference platform guidance"] == page
    assert urls["Protect the inference endpoint"] == page + "#protect-the-inference-endpoint"
    assert urls["Scale: GPUs, quotas & caching?"] == page + "#scale-gpus-quotas--caching"
    assert urls["Cache repeated prompts"] == page + "#cache-repeated-prompts"


def test_heading_path_nests_and_code_fences_do_not_split(docfx_page):
    paths = [section.heading_path for section in docfx_page.sections]
    assert ("Sample inference platform guidance", "Scale: GPUs, quotas & caching?", "Cache repeated prompts") in paths
    scale = next(s for s in docfx_page.sections if s.heading_path[-1].startswith("Scale"))
    assert "# this line is code, not a heading" in scale.text
    assert "| Provisioned throughput | Steady, predictable token volume |" in scale.text


def test_corpus_file_cites_its_front_matter_source_url():
    document = load_file(SourceFile(FIXTURE_CORPUS / "security" / "content-safety.md", FIXTURE_CORPUS))
    assert document.pillars == ["security"] and document.topics == ["responsible-ai"]
    assert {s.url for s in document.sections} == {
        LEARN + "ai/responsible-ai#operationalize-content-safety-measures"
    }
    assert document.source_key == "corpus/security/content-safety.md"


def test_malformed_front_matter_is_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [unclosed\n---\n# Body\n")
    with pytest.raises(UnreadableFile, match="bad.md: malformed front matter"):
        load_file(SourceFile(bad, tmp_path))


def test_binary_file_with_text_extension_is_unreadable(tmp_path):
    bad = tmp_path / "blob.md"
    bad.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(UnreadableFile, match="binary content"):
        load_file(SourceFile(bad, tmp_path))


def test_pdf_pages_become_sections(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for body in ("Use private endpoints for the model API.", "Alert on data drift in production."):
        pdf.add_page()
        pdf.multi_cell(0, 8, body)
    path = tmp_path / "guide.pdf"
    pdf.output(str(path))
    document = load_file(SourceFile(path, tmp_path))
    assert [s.heading_path[-1] for s in document.sections] == ["Page 1", "Page 2"]
    assert "private endpoints" in document.sections[0].text
    assert document.sections[1].url.endswith("guide.pdf#page=2")


def test_corrupt_pdf_is_unreadable(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\nnot really a pdf")
    with pytest.raises(UnreadableFile, match="broken.pdf"):
        load_file(SourceFile(path, tmp_path))


def test_docx_headings_become_sections(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Our AI guidance", level=0)
    document.add_heading("Network isolation", level=1)
    document.add_paragraph("Reach the model only through a private endpoint.")
    path = tmp_path / "guide.docx"
    document.save(str(path))
    loaded = load_file(SourceFile(path, tmp_path))
    assert loaded.title == "Our AI guidance"
    assert loaded.sections[0].heading_path == ("Our AI guidance", "Network isolation")
    assert "private endpoint" in loaded.sections[0].text


def test_navigation_sections_are_not_indexed(docfx_page):
    """"Next steps" and "Related links" only point to other pages: nothing to quote, noise in retrieval."""
    headings = {heading for section in docfx_page.sections for heading in section.heading_path}
    assert "Next steps" not in headings and "Related links" not in headings
    assert "Sample identity guidance" not in all_text(docfx_page)
    assert docfx_page.sections[-1].heading_path[-1] == "Security"


def test_include_fragments_are_not_pages_of_their_own():
    from ingest.load import discover

    found = [source.path.relative_to(FIXTURE_DOCFX).as_posix() for source in discover(FIXTURE_DOCFX)]
    assert "ai/sample-inference.md" in found and not any(path.startswith("includes/") for path in found)
