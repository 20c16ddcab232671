"""Benchmark (not a test): ingest throughput, no-op re-ingest, retrieval and extractive answer latency.

    python -m eval.bench [--docs FOLDER] [--queries 200] [--out eval/results/bench.json]

Figures depend on the machine and its load: compare ratios from one run, not absolute times across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.assistant import Assistant
from core.embeddings import SentenceEmbedder
from core.offline import apply_offline_defaults
from core.settings import PROJECT_ROOT, Settings
from ingest.pipeline import run_ingest

TARGETS = {
    "ingest_seconds": 180.0,
    "noop_reingest_seconds": 5.0,
    "retrieval_p95_ms": 50.0,
    "answer_p95_ms": 300.0,
    "review_20_pages_seconds": 30.0,
    "cold_ask_seconds": 4.0,
    "ingest_over_naive": 1.25,
}
DESIGNS = PROJECT_ROOT / "eval" / "designs"


def twenty_page_design() -> tuple[bytes, int]:
    """The four sample designs back to back as one PDF (about 20 pages): what an architect uploads."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_font("helvetica", size=11)
    for path in sorted(DESIGNS.glob("*.md")):
        pdf.add_page()
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.lstrip("#").strip().encode("latin-1", "replace").decode("latin-1")
            if text:
                pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
    while pdf.page_no() < 20:  # pad to 20 pages with the first design again
        pdf.add_page()
        pdf.multi_cell(0, 5.5, new_x="LMARGIN", new_y="NEXT", text=(DESIGNS / "rag-support-assistant.md").read_text()[:3000].encode("latin-1", "replace").decode("latin-1"))
    return bytes(pdf.output()), pdf.page_no()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def benchmark_questions(limit: int) -> list[str]:
    golden = PROJECT_ROOT / "eval" / "golden.jsonl"
    questions = []
    if golden.is_file():
        questions = [json.loads(line)["question"] for line in golden.read_text().splitlines() if line.strip()]
    questions = questions or ["How should I protect an Azure OpenAI inference endpoint?"]
    return [questions[i % len(questions)] for i in range(limit)]


def cold_start(runs: int = 3) -> dict[str, float]:
    """A fresh `waf-assistant ask` on the default index (what a script or a CI step pays per call), with the ONNX
    export and with torch, against a bare `import torch` in the same run: medians of `runs` processes."""
    cli = str(Path(sys.executable).with_name("waf-assistant"))
    question = "How should a chat workload handle 429 throttling from Azure OpenAI?"

    def median_seconds(command: list[str], **env: str) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env={**os.environ, **env})
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    torch_import = median_seconds([sys.executable, "-c", "import torch"])
    ask = median_seconds([cli, "ask", question])
    ask_torch = median_seconds([cli, "ask", question], WAF_EMBEDDING_RUNTIME="torch")
    return {
        "cold_ask_seconds": round(ask, 2),
        "cold_ask_torch_runtime_seconds": round(ask_torch, 2),
        "import_torch_seconds": round(torch_import, 2),
        "cold_ask_over_import_torch": round(ask / torch_import, 2),
        "cold_ask_torch_runtime_over_import_torch": round(ask_torch / torch_import, 2),
    }


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=PROJECT_ROOT.parent / "shared" / "waf-docs" / "well-architected")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "eval" / "results" / "bench.json")
    args = parser.parse_args(argv)
    folder = args.docs if args.docs.is_dir() else PROJECT_ROOT / "corpus"

    with tempfile.TemporaryDirectory() as tmp:
        # Its own encoder folder: the run pays for the ONNX export, as a first ingest on a fresh machine does.
        settings = Settings(_env_file=None, index_dir=Path(tmp) / "index", corpus_paths=[folder],
                            encoder_cache_dir=Path(tmp) / "encoders")
        embedder = SentenceEmbedder.from_settings(settings)
        embedder.encode(["warm up the model"])  # loads torch: no export exists yet
        built = run_ingest(settings, rebuild=True, embedder=embedder)
        started = time.perf_counter()
        noop = run_ingest(settings, embedder=SentenceEmbedder())  # a fresh embedder: a no-op must not load it
        noop_seconds = time.perf_counter() - started

        assistant = Assistant.open(settings, embedder)
        from eval.runner import naive_baseline

        # A langchain tutorial's ingest of the same folder with the same model, run by sentence-transformers as
        # the tutorial would; and once more on our ONNX export, to show what is runtime and what is our extra work.
        tutorial_embedder = SentenceEmbedder(runtime="torch")
        tutorial_embedder.encode(["warm up the model"])
        started = time.perf_counter()
        naive_baseline(tutorial_embedder, [folder])
        naive_seconds = time.perf_counter() - started
        started = time.perf_counter()
        naive_baseline(embedder, [folder])
        naive_onnx_seconds = time.perf_counter() - started
        questions = benchmark_questions(args.queries)
        for question in questions[:10]:
            assistant.ask(question)
        retrieval_ms, answer_ms = [], []
        for question in questions:
            started = time.perf_counter()
            assistant.retriever.search(question)
            retrieval_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            assistant.ask(question)
            answer_ms.append((time.perf_counter() - started) * 1000)

        from app.review.service import Reviewer

        offline = settings.model_copy(update={"review_assessor": "rule"})  # the target is for the offline mode
        reviewer = Reviewer.open(offline, embedder, assistant.retriever)
        design, pages = twenty_page_design()
        started = time.perf_counter()
        review = reviewer.review_bytes(design, "twenty-pages.pdf")
        review_seconds = time.perf_counter() - started

    results = {
        "folder": str(folder),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "files": built.files,
        "chunks": built.chunks,
        "ingest_seconds": round(built.seconds, 1),
        "chunks_per_second": round(built.chunks / built.seconds, 1),
        "naive_ingest_seconds": round(naive_seconds, 1),
        "ingest_over_naive": round(built.seconds / naive_seconds, 2),
        "naive_ingest_onnx_seconds": round(naive_onnx_seconds, 1),
        "ingest_over_naive_same_runtime": round(built.seconds / naive_onnx_seconds, 2),
        "noop_reingest_seconds": round(noop_seconds, 2),
        "noop_was_unchanged": noop.unchanged,
        "queries": len(questions),
        "retrieval_p50_ms": round(statistics.median(retrieval_ms), 1),
        "retrieval_p95_ms": round(percentile(retrieval_ms, 95), 1),
        "answer_p50_ms": round(statistics.median(answer_ms), 1),
        "answer_p95_ms": round(percentile(answer_ms, 95), 1),
        "review_pages": pages,
        "review_findings": len(review.findings),
        "review_20_pages_seconds": round(review_seconds, 1),
        **cold_start(),
        "targets": TARGETS,
    }
    print(f"{'measure':28} {'value':>10} {'target':>10}")
    for key, value in results.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            target = TARGETS.get(key)
            print(f"{key:28} {value:>10} {('<= ' + str(target)) if target else '':>10}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
