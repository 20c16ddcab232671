"""`waf-assistant history list|show|compare|export`, and the review command's --workload/--milestone/--compare."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXPORT_FORMATS = ("csv", "md", "zip", "sarif", "json", "html")


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="history_command", required=True)
    listing = commands.add_parser("list", help="saved workloads, or one workload's milestones")
    listing.add_argument("workload", nargs="?")
    listing.add_argument("--json", action="store_true")
    show = commands.add_parser("show", help="a saved review")
    show.add_argument("workload")
    show.add_argument("milestone", help="a milestone label, or latest / previous")
    show.add_argument("--format", choices=["md", "html", "json"], default="md")
    show.add_argument("--json", action="store_true", help="same as --format json")
    compare = commands.add_parser("compare", help="gaps closed and opened, status and score changes between milestones")
    compare.add_argument("workload")
    compare.add_argument("base", help="the earlier milestone (or previous)")
    compare.add_argument("head", nargs="?", default="latest", help="the later milestone (default: latest)")
    compare.add_argument("--format", choices=["md", "html", "json"], default="md")
    compare.add_argument("--json", action="store_true", help="same as --format json")
    export = commands.add_parser(
        "export", help="a milestone's gaps as a backlog (csv for Azure Boards, md/zip issue bodies, sarif), or the "
        "workload page (html) or its milestones (json)",
    )
    export.add_argument("workload")
    export.add_argument("milestone", nargs="?", default="latest")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="csv")
    export.add_argument("--json", action="store_true", help="same as --format json")
    export.add_argument("--out", type=Path, help="file (or, for md, a folder) to write; default standard output")


def add_review_history_arguments(review: argparse.ArgumentParser) -> None:
    review.add_argument("--workload", help="save the review under this workload (with --milestone) or compare with it")
    review.add_argument("--milestone", help="label of this review in the workload's history, e.g. 'v2 after security review'")
    review.add_argument(
        "--compare", metavar="MILESTONE",
        help="print what changed since a saved milestone of --workload (a label, or previous / latest) instead of "
        "the report; write the report with --out",
    )
    review.add_argument("--author", help="who saved the review (default: the signed-in OS user)")


def open_store():
    from app.history.store import HistoryStore
    from core.settings import get_settings

    return HistoryStore.from_settings(get_settings())


def run_history_command(args: argparse.Namespace) -> int:
    """Runs a history subcommand; HistoryError is the caller's to report."""
    store = open_store()
    fmt = "json" if getattr(args, "json", False) else getattr(args, "format", "md")
    command = args.history_command
    if command == "list":
        return _list(store, args.workload, fmt == "json")
    if command == "show":
        return _show(store, args.workload, args.milestone, fmt)
    if command == "compare":
        from app.history.compare import compare

        base, head = store.milestone(args.workload, args.base), store.milestone(args.workload, args.head)
        comparison = compare(
            store.report(args.workload, base.milestone), store.report(args.workload, head.milestone),
            base.milestone, head.milestone,
        )
        print(render_comparison(comparison, fmt, args.workload, store))
        return 0
    return _export(store, args.workload, args.milestone, fmt, args.out)


def _list(store, workload: str | None, as_json: bool) -> int:
    if workload is None:
        summaries = store.workloads()
        if as_json:
            print(json.dumps([s.to_dict() for s in summaries], indent=2))
        elif not summaries:
            print("No saved reviews yet: waf-assistant review DESIGN --workload NAME --milestone LABEL")
        else:
            for s in summaries:
                print(f"{s.name}: {s.milestones} milestone(s); latest '{s.latest_milestone}' score {s.latest_score} ({s.updated})")
        return 0
    milestones = store.milestones(workload)
    if as_json:
        print(json.dumps([m.to_dict() for m in milestones], indent=2))
        return 0
    for m in milestones:
        print(f"{m.milestone}\tscore {m.overall}\t{m.gaps} gap(s)\t{m.document_name}\t{m.created}\t{m.author}")
    return 0


def _show(store, workload: str, label: str, fmt: str) -> int:
    from app.review.report import to_html, to_markdown

    report = store.report(workload, label)
    print({"md": to_markdown, "html": to_html, "json": lambda r: r.to_json()}[fmt](report))
    return 0


def render_comparison(comparison, fmt: str, workload: str, store=None) -> str:
    from app.history.compare import to_markdown
    from app.history.render import workload_html

    if fmt == "json":
        return json.dumps(comparison.to_dict(), indent=2)
    if fmt == "html":
        return workload_html(workload, store.milestones(workload) if store else [], comparison)
    return to_markdown(comparison)


def _export(store, workload: str, label: str, fmt: str, out: Path | None) -> int:
    from app.review import backlog

    if fmt == "html":
        from app.history.compare import compare
        from app.history.render import workload_html

        milestones = store.milestones(workload)
        latest = store.report(workload, milestones[-1].milestone)
        comparison = None
        if len(milestones) > 1:
            base = milestones[-2].milestone
            comparison = compare(store.report(workload, base), latest, base, milestones[-1].milestone)
        return _write(workload_html(workload, milestones, comparison, latest), out)
    if fmt == "json":
        return _write(json.dumps([m.to_dict() for m in store.milestones(workload)], indent=2) + "\n", out)
    report = store.report(workload, label)
    if fmt == "csv":
        return _write(backlog.to_csv(report), out, f"{len(backlog.gaps(report))} gap(s) as Azure Boards CSV")
    if fmt == "sarif":
        return _write(backlog.to_sarif(report) + "\n", out, f"{len(backlog.gaps(report))} gap(s) as SARIF")
    if fmt == "zip":
        if out is None:
            raise ValueError("--format zip needs --out FILE.zip")
        out.write_bytes(backlog.markdown_zip(report))
        print(f"{len(backlog.gaps(report))} issue bodies written to {out}", file=sys.stderr)
        return 0
    return write_markdown_issues(report, out)


def write_markdown_issues(report, out: Path | None) -> int:
    """One Markdown file per gap into the folder `out`, or all of them to standard output."""
    from app.review import backlog

    files = backlog.markdown_issues(report)
    if out is None:
        print("\n---\n\n".join(files.values()))
        return 0
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; --format md writes one file per gap into a folder")
    out.mkdir(parents=True, exist_ok=True)
    clashes = [name for name in files if (out / name).exists()]
    if clashes:  # never overwrite what is there: an earlier export may have been edited
        raise ValueError(f"{out} already holds {clashes[0]} (and {len(clashes) - 1} more); choose an empty folder")
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"{len(files)} issue bodies written to {out}/", file=sys.stderr)
    return 0


def _write(text: str, out: Path | None, summary: str = "") -> int:
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{summary or 'written'}: {out}", file=sys.stderr)
    return 0
