"""Chunks must fit the embedding model's own limit: text past it would be silently lost."""
from core.documents import LoadedDocument, Section
from ingest.split import chunk_document


def long_document() -> LoadedDocument:
    paragraph = " ".join(f"Sentence {i} explains how inference endpoints fail over between regions." for i in range(60))
    table = "| Option | Detail |\n|---|---|\n" + "\n".join(f"| PTU {i} | steady load number {i} |" for i in range(8))
    huge_table = "| Key | Value |\n|---|---|\n" + "\n".join(f"| row {i} | {'x' * 40} value {i} |" for i in range(120))
    sections = [
        Section(("Doc", "Long prose"), paragraph, "https://example/a#long-prose"),
        Section(("Doc", "Small table"), "Intro line.\n\n" + table, "https://example/a#small-table"),
        Section(("Doc", "Huge table"), huge_table, "https://example/a#huge-table"),
        Section(("Doc", "Unbroken"), "supercalifragilistic" * 400, "https://example/a#unbroken"),
    ]
    return LoadedDocument("root/doc.md", "doc.md", "Doc", "hash", sections, pillars=["reliability"])


def test_no_chunk_exceeds_the_model_limit_in_its_own_tokens(embedder):
    chunks = chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
    assert len(chunks) > 4
    for chunk in chunks:
        assert embedder.count_tokens(chunk.embed_text) <= embedder.max_tokens


def test_nothing_is_lost_between_chunks(embedder):
    chunks = chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
    prose = " ".join(c.text for c in chunks if c.heading_path[-1] == "Long prose")
    for i in range(60):
        assert f"Sentence {i} explains" in prose


def test_overlap_repeats_text_across_neighbouring_chunks(embedder):
    chunks = [
        c for c in chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
        if c.heading_path[-1] == "Long prose"
    ]
    first_tail = chunks[0].text.split("Sentence ")[-1]
    assert first_tail in chunks[1].text


def test_a_table_that_fits_stays_whole_and_embed_text_carries_the_heading_path(embedder):
    chunks = chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
    small = [c for c in chunks if c.heading_path[-1] == "Small table"]
    assert len(small) == 1
    assert all(f"| PTU {i} |" in small[0].text for i in range(8))
    assert small[0].embed_text.startswith("Doc > Small table\n")
    assert small[0].url == "https://example/a#small-table"
    assert small[0].pillars == ["reliability"]


def test_chunk_ids_are_stable(embedder):
    first = chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
    second = chunk_document(long_document(), embedder.count_tokens, embedder.max_tokens, 48)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)
