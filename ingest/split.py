"""Split loaded sections into chunks that fit the embedding model's own token limit, with overlap."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.documents import Chunk, LoadedDocument
from core.pillars import tag_pillars

_SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]
_MIN_BODY_TOKENS = 48


def embed_prefix(title: str, heading_path: tuple[str, ...] | list[str]) -> str:
    labels = [title, *[h for h in heading_path if h != title]]
    return " > ".join(labels) + "\n"


def chunk_document(
    document: LoadedDocument,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    relative_path = document.source_key.split("/", 1)[-1]
    for section in document.sections:
        prefix = embed_prefix(document.title, section.heading_path)
        if count_tokens(prefix) > max_tokens - _MIN_BODY_TOKENS:
            prefix = embed_prefix(document.title, section.heading_path[-1:])
        budget = max_tokens - count_tokens(prefix)
        pillars = tag_pillars(document.pillars, relative_path, section.heading_path, section.text)
        for piece in _fit(section.text, count_tokens, budget, min(overlap_tokens, budget // 4)):
            heading_path = list(section.heading_path)
            chunk_id = hashlib.sha256(
                "\x1f".join([document.source_key, *heading_path, piece]).encode("utf-8")
            ).hexdigest()[:24]
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    source_key=document.source_key,
                    title=document.title,
                    heading_path=heading_path,
                    url=section.url,
                    text=piece,
                    embed_text=prefix + piece,
                    pillars=pillars,
                    topics=list(document.topics),
                    content_hash=document.content_hash,
                )
            )
    return chunks


def _fit(text: str, count_tokens: Callable[[str], int], budget: int, overlap: int) -> list[str]:
    """Paragraph-first recursive split (a table that fits stays whole), then a hard check that every piece fits."""
    if count_tokens(text) <= budget:
        return [text.strip()]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=overlap,
        length_function=count_tokens,
        separators=_SEPARATORS,
        keep_separator="end",
    )
    pieces: list[str] = []
    for piece in splitter.split_text(text):
        pieces.extend(_halve_until_fits(piece.strip(), count_tokens, budget))
    return [p for p in pieces if p]


def _halve_until_fits(text: str, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    # Joining pieces can add a token or two past the splitter's estimate; never let text be truncated by the model.
    if count_tokens(text) <= budget:
        return [text]
    words = text.split(" ")
    if len(words) == 1:
        half = len(text) // 2
        return _halve_until_fits(text[:half], count_tokens, budget) + _halve_until_fits(text[half:], count_tokens, budget)
    middle = len(words) // 2
    return _halve_until_fits(" ".join(words[:middle]), count_tokens, budget) + _halve_until_fits(
        " ".join(words[middle:]), count_tokens, budget
    )
