"""Command-line entry for the ingest job, shared by `python -m ingest` and `waf-assistant ingest`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import ModelLoadError
from core.offline import apply_offline_defaults
from core.settings import get_settings
from index.errors import IndexProblem

EXIT_BAD_INPUT = 2


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: WAF_CORPUS_PATHS)")
    parser.add_argument("--rebuild", action="store_true", help="re-embed everything instead of reusing chunks")
    parser.add_argument("--index-dir", type=Path, default=None, help="where the index lives (default: WAF_INDEX_DIR)")


def run_ingest_command(args: argparse.Namespace) -> int:
    from ingest.pipeline import IngestInputError, run_ingest  # here: `waf-assistant ask` should not pay for it

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    settings = get_settings()
    if args.index_dir is not None:
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    try:
        summary = run_ingest(settings, paths=list(args.paths) or None, rebuild=args.rebuild)
    except IngestInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ModelLoadError, IndexProblem, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 0


def add_docs_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="docs_action", required=True)
    sync = actions.add_parser(
        "sync", help="clone or update the official WAF docs (CC BY 4.0) and ingest them beside corpus/"
    )
    sync.add_argument("--repo", help="git URL or local path (default: WAF_DOCS_REPO)")
    sync.add_argument("--ref", help="branch, tag or commit (default: WAF_DOCS_REF)")
    sync.add_argument("--no-ingest", action="store_true", help="fetch only; the next `ingest` indexes them")


def run_docs_command(args: argparse.Namespace) -> int:
    """Fetch the docs, check our corpus's citations against them, then bring the index up to date."""
    from ingest.corpus_check import check_corpus
    from ingest.docs_sync import DocsSyncError, sync_official_docs

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    settings = get_settings()
    try:
        result = sync_official_docs(args.repo or settings.docs_repo, args.ref or settings.docs_ref, settings.docs_cache_dir)
    except DocsSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in result.lines():
        print(line)
    for corpus in (p for p in settings.corpus_paths if p.is_dir()):
        report = check_corpus(corpus, result.docs_dir)
        print(f"citations of {corpus.name}/ checked against these docs: {len(report.problems)} problems")
        for problem in report.problems[:10]:
            print(f"  {problem}")
    if args.no_ingest:
        return 0
    return run_ingest_command(argparse.Namespace(paths=[], rebuild=False, index_dir=None))


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Build or update the guidance index.")
    add_ingest_arguments(parser)
    return run_ingest_command(parser.parse_args(argv))
