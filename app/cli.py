"""waf-assistant: ingest guidance, ask questions, chat, and inspect the index."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.history.cli import add_history_arguments, add_review_history_arguments, run_history_command
from app.history.errors import HistoryError
from app.llm.resilience import AllBackendsFailed  # stdlib only: the default path stays light
from core.errors import ModelLoadError
from core.offline import apply_offline_defaults
from core.settings import get_settings
from index.errors import IndexProblem
from ingest.cli import EXIT_BAD_INPUT, add_docs_arguments, add_ingest_arguments, run_docs_command, run_ingest_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waf-assistant",
        description="Azure Well-Architected guidance for AI workloads, answered with citations.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="build or update the index from guidance files")
    add_ingest_arguments(ingest)

    docs = commands.add_parser("docs", help="the official WAF docs as a second source (`docs sync`)")
    add_docs_arguments(docs)

    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--pillar", help="only guidance of this pillar (e.g. security, cost-optimization)")
    ask.add_argument("--json", action="store_true", help="print the whole answer object as JSON")
    ask.add_argument(
        "--server", metavar="URL",
        help="ask a running `waf-assistant serve` instead of loading the model here (default WAF_SERVER_URL; "
        "WAF_API_TOKEN is sent as the bearer token)",
    )

    chat = commands.add_parser("chat", help="ask questions interactively")
    chat.add_argument("--pillar")

    commands.add_parser("info", help="summarise the index manifest")

    usage = commands.add_parser("usage", help="LLM tokens, latency and estimated cost per day and backend")
    usage.add_argument("--days", type=int, help="only the last N days")
    usage.add_argument("--json", action="store_true")

    review = commands.add_parser("review", help="review a design document (md, txt, pdf, docx) against the checklist")
    review.add_argument("file", type=Path)
    review.add_argument(
        "--format", choices=["md", "html", "json", "sarif", "csv"], default="md",
        help="report (md, html, json), or the gaps alone: sarif (code scanning) or csv (Azure Boards import)",
    )
    review.add_argument("--out", type=Path, help="write the report here instead of standard output")
    review.add_argument("--fail-under", type=int, metavar="N", help="exit 1 when the overall score is below N")
    review.add_argument(
        "--overrides", type=Path, metavar="FILE",
        help="YAML or JSON: item id -> status (and note) decided by the architect; scores are recomputed",
    )
    review.add_argument(
        "--export-labels", type=Path, metavar="FILE", help="write the overridden findings as eval-ready labels (JSONL)"
    )
    review.add_argument(
        "--assessor", choices=["auto", "rule", "llm"],
        help="who judges each item (default WAF_REVIEW_ASSESSOR, auto: the LLM when WAF_LLM_BACKEND is one)",
    )
    add_review_history_arguments(review)

    serve = commands.add_parser("serve", help="the HTTP API (/ask, /chat, /review, /conversations; OpenAPI at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    serve.add_argument("--port", type=int, default=8000)

    history = commands.add_parser("history", help="saved reviews per workload: list, show, compare, export")
    add_history_arguments(history)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_offline_defaults()
    args = build_parser().parse_args(argv)
    problem = _settings_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "ingest":
        return run_ingest_command(args)
    if args.command == "docs":
        return run_docs_command(args)
    try:
        if args.command == "history":
            return run_history_command(args)
        if args.command == "serve":
            return _serve(args.host, args.port)
        if args.command == "info":
            return _info()
        if args.command == "ask":
            server = args.server or get_settings().server_url
            if server:
                return _ask_server(server, args.question, args.pillar, args.json)
            return _ask(args.question, args.pillar, args.json)
        if args.command == "review":
            return _review(args)
        if args.command == "usage":
            return _usage(args.days, args.json)
        return _chat(args.pillar)
    except HistoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (IndexProblem, ModelLoadError, AllBackendsFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # an empty question, an unknown pillar
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _settings_problem() -> str | None:
    """A bad WAF_* value as one line, instead of pydantic's multi-line ValidationError and a traceback."""
    from pydantic import ValidationError

    try:
        get_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "WAF_" + str(error["loc"][0]).upper() if error.get("loc") else "a WAF_ setting"
        return f"bad setting {name}: {error['msg']}"
    return None


def _open_assistant():
    from app.assistant import Assistant

    return Assistant.open(get_settings())


def _ask(question: str, pillar: str | None, as_json: bool) -> int:
    answer = _open_assistant().ask(question, pillar)
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(answer.display_text() + _follow_ups(answer))
    _notes(answer)
    return 0


def _ask_server(server: str, question: str, pillar: str | None, as_json: bool) -> int:
    from types import SimpleNamespace

    from app.api.client import ServerError, post_json

    try:
        data = post_json(server, "/ask", {"question": question, "pillar": pillar}, get_settings().api_token)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.status in (400, 401, 403, 404, 413, 422) else 1
    if as_json:
        print(json.dumps({k: v for k, v in data.items() if k != "display_text"}, indent=2, ensure_ascii=False))
        return 0
    answer = SimpleNamespace(**data)
    print(answer.display_text + _follow_ups(answer))
    _notes(answer)
    return 0


def _follow_ups(answer) -> str:
    if not answer.follow_ups:
        return ""
    return "\n\nYou could also ask\n" + "\n".join(f"- {q}" for q in answer.follow_ups)


def _notes(answer) -> None:
    """What the reader should know about a generative answer, on standard error, one line each."""
    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    if answer.removed_markers:
        print(f"note: {answer.removed_markers} citation marker(s) pointing at no source were removed", file=sys.stderr)
    for sentence in answer.unsupported_sentences:
        print(f"note: not supported by its cited source: {sentence}", file=sys.stderr)


def _usage(days: int | None, as_json: bool) -> int:
    from app.llm.usage import UsageLog, format_totals

    settings = get_settings()
    rows = UsageLog.from_settings(settings).totals(days)
    print(json.dumps(rows, indent=2) if as_json else format_totals(rows))
    return 0


def _chat(pillar: str | None) -> int:
    assistant = _open_assistant()
    history: list = []
    print("Ask about the Well-Architected Framework for AI workloads. An empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            history.append(_stream_turn(assistant, question, pillar, history))
        except AllBackendsFailed as exc:  # say so and keep the chat open: the backend may come back
            print(f"\nerror: {exc}", file=sys.stderr)


def _stream_turn(assistant, question: str, pillar: str | None, history: list):
    """Print the model's words as they arrive, then the verified ending (Sources, or a corrected answer)."""
    shown = ""
    answer = None
    for item in assistant.stream(question, pillar, history=history):
        if isinstance(item, str):
            if assistant.generator is not None:
                print(item, end="", flush=True)
                shown += item
        else:
            answer = item
    if not shown:
        print(answer.display_text() + _follow_ups(answer))
    elif " ".join(answer.text.split()) == " ".join(shown.split()):
        sources = answer.sources_text()
        print((f"\n\n{sources}" if sources else "") + _follow_ups(answer))
    else:  # markers repaired or another backend answered: show the verified answer whole
        print("\n\n--- verified answer ---\n" + answer.display_text() + _follow_ups(answer))
    _notes(answer)
    return answer


def _review(args: argparse.Namespace) -> int:
    from app.review.backlog import to_csv, to_sarif
    from app.review.overrides import apply_overrides, labelled_examples, load_overrides
    from app.review.report import to_html, to_markdown
    from app.review.service import Reviewer

    path, output_format, out, fail_under, assessor = args.file, args.format, args.out, args.fail_under, args.assessor
    overrides = load_overrides(args.overrides) if args.overrides else {}  # a bad file fails before the review runs
    store, base = _history_for_review(args)  # likewise a bad workload, milestone or database
    settings = get_settings()
    if assessor:
        settings = settings.model_copy(update={"review_assessor": assessor})
    embedder, guidance = None, None
    try:  # the guidance index, for citations; the answer backend plays no part in a review
        from app.assistant import Assistant

        assistant = Assistant.open(settings.model_copy(update={"llm_backend": "extractive"}))
        embedder, guidance = assistant.index.embedder, assistant.retriever
    except IndexProblem as exc:
        print(f"warning: {exc}; findings cite only the checklist sources", file=sys.stderr)
    report = Reviewer.open(settings, embedder, guidance).review_file(path)
    if overrides:
        report = apply_overrides(report, overrides)
    if args.export_labels:
        rows = labelled_examples(report)
        args.export_labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{len(rows)} labelled example(s) written to {args.export_labels}", file=sys.stderr)
    if store is not None and args.milestone:
        saved = store.save(args.workload, args.milestone, report, _sha256(path), args.author or _os_user())
        print(f"saved as milestone '{saved.milestone}' of workload '{saved.workload}'", file=sys.stderr)
    rendered = {
        "md": to_markdown, "html": to_html, "json": lambda r: r.to_json(), "sarif": lambda r: to_sarif(r, str(path)),
        "csv": to_csv,
    }[output_format](report)
    if args.compare:
        from app.history.cli import render_comparison
        from app.history.compare import compare

        head_label = args.milestone or f"this review of {path.name}"
        comparison = compare(store.report(args.workload, base), report, base, head_label)
        print(render_comparison(comparison, output_format if output_format in ("json", "html") else "md", args.workload, store))
        if out is not None:
            out.write_text(rendered, encoding="utf-8")
    elif out is None:
        print(rendered)
    else:
        out.write_text(rendered, encoding="utf-8")
    counts = {s: sum(f.status == s for f in report.findings) for s in ("missing", "partial", "addressed")}
    overridden = sum(f.override is not None for f in report.findings)
    print(
        f"overall score {report.scores.overall}/100: {counts['missing']} missing, {counts['partial']} partial, "
        f"{counts['addressed']} addressed; assessed by {report.assessor}"
        + (f"; {overridden} overridden" if overridden else "") + (f"; report written to {out}" if out else ""),
        file=sys.stderr,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if report.set_aside:
        print(f"note: {len(report.set_aside)} sentence(s) addressed to the reviewer were left out", file=sys.stderr)
    if fail_under is not None and (report.scores.overall or 0) < fail_under:
        print(f"score {report.scores.overall} is below --fail-under {fail_under}", file=sys.stderr)
        return 1
    return 0


def _history_for_review(args: argparse.Namespace):
    """(history store, milestone to compare with) when the review is saved or compared, after checking the options
    make sense; (None, None) otherwise."""
    if not (args.workload or args.milestone or args.compare):
        return None, None
    if not args.workload:
        raise ValueError("--milestone and --compare need --workload NAME")
    from app.history.cli import open_store
    from app.history.store import MAX_MILESTONE, check_name

    store = open_store()
    if args.milestone:  # a label already used: say so before spending time on the review
        label = check_name(args.milestone, "milestone", MAX_MILESTONE)
        if any(m.milestone == label for m in _saved(store, args.workload)):
            raise HistoryError(f"workload '{args.workload}' already has a milestone '{label}'; choose another label")
    base = None
    if args.compare:  # unknown workload or milestone: fail now, listing what exists
        # This review is the newest, so "previous" is the latest saved one.
        base = store.milestone(args.workload, "latest" if args.compare == "previous" else args.compare).milestone
    return store, base


def _saved(store, workload: str) -> list:
    try:
        return store.milestones(workload)
    except HistoryError:  # a new workload
        return []


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _serve(host: str, port: int) -> int:
    import uvicorn

    from app.api.server import create_app
    from app.storage.database import DatabaseError

    try:
        app = create_app(get_settings())
    except (DatabaseError, ValueError) as exc:  # a database that cannot be opened, sign-in settings incomplete
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"serving on http://{host}:{port} (OpenAPI at /docs); /readyz turns ready once the model and index load",
          file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0


def _info() -> int:
    from index.backend import index_backend

    print("\n".join(index_backend(get_settings()).describe()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
