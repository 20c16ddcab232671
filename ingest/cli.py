"""Command-line entry for the ingest job, shared by `python -m ingest` and `waf-assistant ingest`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.embeddings import ModelLoadError
from core.offline import apply_offline_defaults
from core.settings import get_settings
from index.errors import IndexProblem
from ingest.pipeline import IngestInputError, run_ingest

EXIT_BAD_INPUT = 2


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: WAF_CORPUS_PATHS)")
    parser.add_argument("--rebuild", action="store_true", help="re-embed everything instead of reusing chunks")
    parser.add_argument("--index-dir", type=Path, default=None, help="where the index lives (default: WAF_INDEX_DIR)")


def run_ingest_command(args: argparse.Namespace) -> int:
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


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Build or update the guidance index.")
    add_ingest_arguments(parser)
    return run_ingest_command(parser.parse_args(argv))
