"""Calibrate WAF_LLM_SUPPORT_THRESHOLD: the similarity above which a sentence counts as supported by the
chunk it cites.

    python -m eval.calibrate_support            # golden set when eval/golden.jsonl and the index exist, else fixtures

Golden set: each answerable question's reference answer, split into sentences, is a supported claim for its
gold sections and an unsupported claim for the gold sections of a question on another page. Fixtures
(tests/fixtures/support-pairs.jsonl on the fixture corpus): hand-written paraphrases of a section (supported)
and plausible-but-unsupported or unrelated claims (unsupported) for the same section, plus every paraphrase
cited against a section of another pillar. Scores use the same code as answering (CitationVerifier.support);
the threshold is the one with the best balanced accuracy, in the middle of its plateau.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.llm.citations import CitationVerifier, Claim
from index.retriever import ScoredChunk

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PAIRS = ROOT / "tests" / "fixtures" / "support-pairs.jsonl"
FIXTURE_CORPUS = ROOT / "tests" / "fixtures" / "corpus"
GOLDEN = ROOT / "eval" / "golden.jsonl"


@dataclass
class Pair:
    claim: str
    hit: ScoredChunk | list[ScoredChunk]  # golden pairs: every chunk of the cited section(s)
    supported: bool


def _hit(stored, position: int) -> ScoredChunk:
    return ScoredChunk(stored.chunks[position], None, 0.0, position)


def fixture_pairs(stored, path: Path = FIXTURE_PAIRS) -> list[Pair]:
    by_title = {c.title: i for i, c in enumerate(stored.chunks)}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [Pair(r["claim"], _hit(stored, by_title[r["title"]]), bool(r["supported"])) for r in rows]
    count = len(stored.chunks)
    for pair in [p for p in pairs if p.supported]:  # the same paraphrase cited against another pillar's section
        pillars = set(pair.hit.chunk.pillars)
        for step in range(1, count):
            other = (pair.hit.position + step) % count
            if not pillars & set(stored.chunks[other].pillars):
                pairs.append(Pair(pair.claim, _hit(stored, other), False))
                break
    return pairs


def golden_pairs(stored, golden_path: Path = GOLDEN) -> list[Pair]:
    from eval.golden import load_golden

    questions = [q for q in load_golden(golden_path) if q.answerable and q.gold_urls and q.reference]
    by_url: dict[str, list[int]] = {}
    for i, chunk in enumerate(stored.chunks):
        by_url.setdefault(chunk.url, []).append(i)
    pairs: list[Pair] = []
    for n, q in enumerate(questions):
        gold = [i for url in q.gold_urls for i in by_url.get(url, [])]
        pages = {u.split("#")[0] for u in q.gold_urls}
        other = next((o for o in questions[n + 1:] + questions[:n] if not pages & {u.split("#")[0] for u in o.gold_urls}), None)
        wrong = [i for url in (other.gold_urls if other else []) for i in by_url.get(url, [])]
        for sentence in re.split(r"(?<=[.!?])\s+", q.reference.strip()):
            if len(sentence.split()) < 3:
                continue
            if gold and wrong:
                pairs.append(Pair(sentence, [_hit(stored, i) for i in gold], True))
                pairs.append(Pair(sentence, [_hit(stored, i) for i in wrong], False))
    return pairs


def score_pairs(verifier: CitationVerifier, pairs: list[Pair]) -> np.ndarray:
    """Each claim against the chunk it cites; for a golden pair, the best chunk of the cited section(s)."""
    vectors = verifier.embedder.encode([p.claim for p in pairs])
    scores = []
    for pair, vector in zip(pairs, vectors):
        hits = pair.hit if isinstance(pair.hit, list) else [pair.hit]
        scores.append(max(verifier.support(Claim(pair.claim, [n]), vector, hits) for n in range(1, len(hits) + 1)))
    return np.array(scores)


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    predicted = scores >= threshold
    return float((predicted[labels].mean() + (~predicted[~labels]).mean()) / 2)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The middle of the widest run of thresholds with the best balanced accuracy, rounded to 0.01."""
    grid = np.round(np.arange(0.30, 0.96, 0.01), 2)
    accuracy = np.array([balanced_accuracy(scores, labels, t) for t in grid])
    best = accuracy.max()
    runs, start = [], None
    for i, good in enumerate(np.isclose(accuracy, best)):
        if good and start is None:
            start = i
        if (not good or i == len(grid) - 1) and start is not None:
            runs.append((start, i if good else i - 1))
            start = None
    first, last = max(runs, key=lambda r: r[1] - r[0])
    return float(np.round((grid[first] + grid[last]) / 2, 2)), float(best)


def calibrate(verifier: CitationVerifier, pairs: list[Pair]) -> dict:
    scores = score_pairs(verifier, pairs)
    labels = np.array([p.supported for p in pairs])
    threshold, accuracy = best_threshold(scores, labels)
    return {
        "threshold": threshold,
        "balanced_accuracy": round(accuracy, 3),
        "supported": int(labels.sum()),
        "unsupported": int((~labels).sum()),
        "supported_scores": [round(float(s), 3) for s in np.sort(scores[labels])],
        "unsupported_scores": [round(float(s), 3) for s in np.sort(scores[~labels])],
        "accuracy_at_current": round(balanced_accuracy(scores, labels, verifier.threshold), 3),
    }


def main(argv: list[str] | None = None) -> int:
    from core.offline import apply_offline_defaults

    apply_offline_defaults()
    from core.embeddings import SentenceEmbedder
    from core.settings import get_settings
    from index.faiss.store import IndexProblem, load_index

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate_support", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["auto", "golden", "fixtures"], default="auto")
    args = parser.parse_args(argv)
    settings = get_settings()
    embedder = SentenceEmbedder.from_settings(settings)
    verifier = CitationVerifier(embedder, settings.llm_support_threshold)
    source = args.source
    stored = None
    if source in ("auto", "golden") and GOLDEN.exists():
        try:
            stored = load_index(settings.index_dir, settings.embedding_model)
            source = "golden"
        except IndexProblem as exc:
            if source == "golden":
                print(f"error: {exc}", file=sys.stderr)
                return 1
    if stored is None:
        from ingest.pipeline import run_ingest

        source = "fixtures"
        index_dir = Path(tempfile.mkdtemp(prefix="waf-calibrate-")) / "index"
        fixture_settings = settings.model_copy(update={"index_dir": index_dir, "corpus_paths": [FIXTURE_CORPUS]})
        run_ingest(fixture_settings, paths=[FIXTURE_CORPUS], embedder=embedder, show_progress=False)
        stored = load_index(index_dir, settings.embedding_model)
    verifier.sentence_vectors = stored.sentences
    pairs = golden_pairs(stored) if source == "golden" else fixture_pairs(stored)
    result = {"source": source, "current_threshold": settings.llm_support_threshold, **calibrate(verifier, pairs)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
