"""Probe (not a test): could sentence vectors come from the chunk's own forward pass?

    python -m eval.onepass_probe [--chunks 300]
    python -m eval.onepass_probe --write-index DIR   # the default index with pooled sentence vectors, to evaluate:
    WAF_INDEX_DIR=DIR python -m eval.question_eval --split dev

Ingest embeds each chunk, then each of its sentences again for the extractive answerer. One pass would
mean-pool each sentence's span of the chunk's token embeddings instead. This measures, on the default
index's first chunks: how many sentences can be found as a token span of their chunk (markup and truncation
lose the rest, which would still need their own pass), how close the pooled vector is to the sentence's own
embedding, and the time of the two passes. With --write-index, it copies the whole default index and replaces the
vector of every sentence found as a span by its pooled vector (the others keep their own), so the answers can be
measured end to end.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.embeddings import SentenceEmbedder
from core.offline import apply_offline_defaults
from core.settings import get_settings
from core.text import split_sentences
from index.faiss.store import current_version_dir, load_index


def span(haystack: list[int], needle: list[int]) -> int:
    for start in range(len(haystack) - len(needle) + 1):
        if haystack[start:start + len(needle)] == needle:
            return start
    return -1


def pooled_sentences(model, chunk, output) -> Iterator[tuple[str, np.ndarray | None]]:
    """Each sentence of the chunk with its vector mean-pooled from the chunk's token embeddings (`output` of
    model.encode(output_value=None)), or None when it is not a token span of the chunk (markup, truncation)."""
    tokenizer = model.tokenizer
    ids = tokenizer(chunk.embed_text, truncation=True, max_length=model.max_seq_length)["input_ids"]
    for sentence in split_sentences(chunk.text):
        wanted = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        if wanted and tokenizer.convert_ids_to_tokens(wanted[-1]) == ".":
            wanted = wanted[:-1]  # split_sentences adds a full stop the chunk may not have
        start = span(ids, wanted) if wanted else -1
        if start < 0:
            yield sentence, None
            continue
        vector = output["token_embeddings"][start:start + len(wanted)].mean(0)
        yield sentence, (vector / vector.norm()).numpy()


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=300)
    parser.add_argument("--write-index", type=Path, help="copy the default index here with pooled sentence vectors")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.write_index:
        return write_pooled_index(settings, args.write_index)
    chunks = load_index(settings.index_dir).chunks[: args.chunks]
    embedder = SentenceEmbedder(settings.embedding_model, runtime="torch")
    model = embedder.model

    started = time.perf_counter()
    outputs = model.encode([c.embed_text for c in chunks], output_value=None, batch_size=32)
    chunk_seconds = time.perf_counter() - started

    pooled, sentences, total = [], [], 0
    for chunk, output in zip(chunks, outputs):
        for sentence, vector in pooled_sentences(model, chunk, output):
            total += 1
            if vector is not None:
                pooled.append(vector)
                sentences.append(sentence)

    started = time.perf_counter()
    own = embedder.encode(sentences)
    sentence_seconds = time.perf_counter() - started
    cosine = (np.array(pooled) * own).sum(axis=1)
    print(json.dumps({
        "chunks": len(chunks),
        "sentences": total,
        "found_as_token_span": round(len(sentences) / total, 3),
        "pooled_vs_own_cosine_mean": round(float(cosine.mean()), 3),
        "pooled_vs_own_cosine_p10": round(float(np.percentile(cosine, 10)), 3),
        "chunk_pass_seconds": round(chunk_seconds, 2),
        "sentence_pass_seconds_for_found": round(sentence_seconds, 2),
    }, indent=2))
    return 0


def write_pooled_index(settings, target: Path) -> int:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(settings.index_dir, target)
    stored = load_index(target)
    model = SentenceEmbedder(settings.embedding_model, runtime="torch").model
    outputs = model.encode([c.embed_text for c in stored.chunks], output_value=None, batch_size=32)
    vectors, row, pooled = stored.sentences.vectors.copy(), 0, 0
    for chunk, output in zip(stored.chunks, outputs):
        for _, vector in pooled_sentences(model, chunk, output):
            if vector is not None:
                vectors[row] = vector
                pooled += 1
            row += 1
    np.save(current_version_dir(target) / "sentence_vectors.npy", vectors.astype(np.float32))
    print(f"{target}: {pooled} of {row} sentence vectors pooled from their chunk's pass")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
