"""The extractive answerer: per-pillar quotes whose [n] markers resolve to official sections, or a refusal."""
import re

import pytest

from app.assistant import UnknownPillar

LEARN = "https://learn.microsoft.com/azure/well-architected/"


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_answer_quotes_guidance_with_markers_that_resolve_to_sources(assistant):
    answer = assistant.ask("How should I protect an Azure OpenAI inference endpoint?")
    assert not answer.refused
    body, sources = answer.text, answer.sources_text()
    assert "Sources" not in body and answer.display_text() == f"{body}\n\n{sources}"
    assert markers(body) == {c.number for c in answer.citations}
    for citation in answer.citations:
        assert citation.url.startswith(LEARN) and "#" in citation.url
        assert f"[{citation.number}] {citation.section} — {citation.url}" in sources
    quoted = [line[2:].rsplit(" [", 1)[0] for line in body.splitlines() if line.startswith("- ")]
    passages = " ".join(p.text for p in answer.passages)
    assert quoted and all(q.rstrip(".") in passages.replace("**", "") for q in quoted)


def test_answer_groups_quotes_under_pillar_headings(assistant):
    answer = assistant.ask("How do we fail over the model endpoint between regions, and protect it with managed identities instead of keys?")
    headings = re.findall(r"^\*\*(.+)\*\*$", answer.text, flags=re.MULTILINE)
    assert headings and set(headings) <= {
        "Reliability", "Security", "Cost Optimization", "Operational Excellence", "Performance Efficiency"
    }
    assert len(answer.pillars) == len(headings)


def test_off_topic_question_is_declined_with_no_citations(assistant):
    answer = assistant.ask("What is the best pizza in Naples?")
    assert answer.refused and not answer.citations
    # the request classifier may name it a task outside architecture guidance before the relevance check does
    assert "does not cover" in answer.text or "tasks outside architecture guidance" in answer.text
    assert answer.best_score < assistant.settings.relevance_threshold


def test_pillar_filter_keeps_every_citation_in_that_pillar(assistant):
    answer = assistant.ask("What should we do about cost when serving models?", pillar="cost")
    assert answer.citations and all("cost-optimization" in c.pillars for c in answer.citations)
    assert answer.pillars == ["cost-optimization"]


def test_unknown_pillar_and_empty_question_are_clear_errors(assistant):
    with pytest.raises(UnknownPillar, match="unknown pillar 'pizza'"):
        assistant.ask("anything", pillar="pizza")
    with pytest.raises(ValueError, match="empty"):
        assistant.ask("   ")


def test_answer_object_carries_timings_and_serialises(assistant):
    answer = assistant.ask("semantic cache for repeated prompts")
    data = answer.to_dict()
    assert data["backend"] == "extractive" and data["timings"]["total_ms"] > 0
    assert {"text", "citations", "pillars", "passages", "refused"} <= set(data)


def test_precomputed_sentence_vectors_match_a_fresh_model_pass(assistant, embedder):
    import numpy as np

    from core.text import split_sentences

    stored = assistant.index.stored.sentences
    assert stored is not None and len(stored.counts) == len(assistant.index.chunks)
    position = next(i for i, c in enumerate(assistant.index.chunks) if len(split_sentences(c.text)) >= 2)
    fresh = embedder.encode(split_sentences(assistant.index.chunks[position].text))
    assert np.allclose(stored.for_chunk(position), fresh, atol=1e-4)


def test_a_citation_shared_by_several_chunks_holds_every_quoted_passage(assistant):
    from app.assistant import _citations
    from app.extractive import Quote

    hits = assistant.retriever.search("managed identities and encryption", k=2)
    first, second = hits[0], hits[1]
    second.chunk = type(second.chunk)(**{**second.chunk.to_dict(), "url": first.chunk.url})
    citations = _citations([Quote("a", first, 0.9, "security"), Quote("b", second, 0.8, "security")])
    assert len(citations) == 1
    assert first.chunk.text in citations[0].passage and second.chunk.text in citations[0].passage


def best_quote(embedder, text: str, question: str):
    """The one sentence the extractive answerer quotes from a single chunk holding `text`."""
    from app.extractive import ExtractiveAnswerer
    from core.documents import Chunk
    from index.retriever import ScoredChunk

    chunk = Chunk("c1", "corpus/x.md", "Throttling", ["Throttling"], "https://x#y", text, text, ["reliability"], [], "h")
    answerer = ExtractiveAnswerer(embedder, max_sentences=1, min_sentence_score=0.0)
    return answerer.select(embedder.encode([question])[0], [ScoredChunk(chunk, 0.6, 1.0, 0)], question=question)[0]


def test_sentences_with_the_questions_own_words_win_and_dangling_ones_lose(embedder):
    # Alone, the model ranks the first sentence higher (0.47 against 0.40 to the question).
    text = (
        "This keeps the experience smooth for Azure OpenAI callers during surges. "
        "Honour the retry-after-ms header of a 429 response before retrying."
    )
    quote = best_quote(embedder, text, "how to handle 429 errors from azure openai")
    assert quote.sentence.startswith("Honour the retry-after-ms header")


def test_a_sentence_that_points_back_is_quoted_with_the_sentence_before_it(embedder):
    text = (
        "Throttle batch callers at a lower token rate than interactive callers. "
        "This keeps chat responsive during surges of Azure OpenAI traffic without hard 429s. "
        "Unrelated: store diagnostic logs for ninety days."
    )
    quote = best_quote(embedder, text, "How do I keep chat responsive during surges of Azure OpenAI traffic?")
    assert quote.sentence == (
        "Throttle batch callers at a lower token rate than interactive callers. "
        "This keeps chat responsive during surges of Azure OpenAI traffic without hard 429s."
    )
    assert quote.sentence in text  # still a verbatim quote of the guidance
