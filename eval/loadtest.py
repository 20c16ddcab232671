"""Load test (not a unit test): locust against a `waf-assistant serve` that this command starts and stops itself.

    make loadtest                                  # 8 users for 60 s, extractive answers
    make loadtest LLM=flaky USERS=4 DURATION=30    # the LLM backend is a local fake that fails half of its calls
    python -m eval.loadtest [--users 8] [--duration 60] [--llm extractive|fake|flaky] [--out FILE] [--server-log FILE]

The server listens on a free port of 127.0.0.1 with a temporary WAF_DATA_DIR (its own SQLite database: your data is
never touched), sign-in off and rate limits off (every simulated user is the same anonymous user). The users
(eval/locustfile.py) ask, chat (streamed, read to the end, with follow-ups in the same conversation) and upload a
design for review. `--llm flaky` points the server's LLM at tests/fake_openai.py refusing half of the calls (429
with Retry-After and 503 in turn), with the extractive answerer as the fallback; `fake` is the same fake without
failures. Feedback and saved reviews have no API endpoint yet, so the conversation turns are the writes checked.

Afterwards the server's database is read: every conversation turn the server acknowledged (the streamed answer's
final chunk arrived) must be there, question and answer. Printed and written as JSON (default
eval/results/loadtest.json, or loadtest-<llm>.json): throughput, p50/p95/p99 per endpoint, errors, writes expected
and found, who answered (fallbacks), and the slowest request against the client timeout. Exit code 1 when a write
was lost, a 5xx or a broken stream occurred, a request timed out, or an endpoint got no request; 2 when the load
could not run (the server did not become ready, locust failed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.settings import PROJECT_ROOT

LOCUSTFILE = PROJECT_ROOT / "eval" / "locustfile.py"
DEFAULT_DESIGN = PROJECT_ROOT / "eval" / "designs" / "realtime-vision-inference.md"
RESULTS = PROJECT_ROOT / "eval" / "results"
ENDPOINTS = ("/ask", "/chat (stream)", "/review")
FLAKY_FAIL_RATE = 0.5
READY_TIMEOUT = 600.0  # loading the model and the index on a busy 2-core machine
# Telemetry exporters stay off: a load test's spans must not land in the production workspace.
DROPPED_ENV = ("APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass(frozen=True)
class LoadConfig:
    users: int = 8
    duration: int = 60  # seconds of load; then every user finishes its current action
    llm: str = "extractive"  # extractive | fake | flaky
    request_timeout: float = 120.0  # client timeout of each request; slower counts as hung
    design: Path = DEFAULT_DESIGN
    server_log: Path | None = None  # keep the server's log here (it is deleted with the temporary directory)

    @property
    def primary_backend(self) -> str:
        return "extractive" if self.llm == "extractive" else "openai"


class LoadTestError(RuntimeError):
    """The load could not run (the server did not start, locust failed); the message says why."""


# -- processes -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake_llm(fail_rate: float, work: Path) -> tuple[subprocess.Popen, str]:
    """tests/fake_openai.py in a process of its own (run, not imported: nothing imports tests); its base URL."""
    with (work / "fake-llm.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_openai", "--fail-rate", str(fail_rate), "--stats", str(work / "fake-llm.json")],
            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
        )
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        stop(process)
        raise LoadTestError("the fake LLM server did not start: " + (work / "fake-llm.log").read_text()[-1000:])
    return process, url


def server_env(config: LoadConfig, work: Path, llm_url: str | None) -> dict[str, str]:
    """The environment of the server: the caller's (index, model...), with its own data and no sign-in or limits."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update({
        "WAF_DATA_DIR": str(work / "data"), "WAF_DATABASE_URL": "",
        "WAF_FEEDBACK_DB": str(work / "no-legacy-feedback.sqlite"), "WAF_USAGE_DB": str(work / "no-legacy-usage.sqlite"),
        "WAF_AUTH_ISSUER": "", "WAF_RATE_LIMIT_QUESTIONS": "0", "WAF_RATE_LIMIT_REVIEWS": "0",
        "WAF_LLM_BACKEND": "extractive",
    })
    if llm_url:
        env.update({"WAF_LLM_BACKEND": "openai", "WAF_OPENAI_BASE_URL": llm_url, "WAF_OPENAI_API_KEY": "sk-fake",
                    "WAF_OPENAI_MODEL": "fake-gpt", "WAF_LLM_FALLBACKS": '["extractive"]'})
    return env


def start_server(config: LoadConfig, work: Path, llm_url: str | None) -> tuple[subprocess.Popen, str, float]:
    """`waf-assistant serve` on a free port; returns once /readyz says ready (with the seconds that took)."""
    port = free_port()
    with (work / "server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env=server_env(config, work, llm_url), stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        wait_ready(process, base, work / "server.log")
    except BaseException:
        stop(process)
        raise
    return process, base, time.monotonic() - started


def wait_ready(process: subprocess.Popen, base: str, log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadTestError(f"the server exited with code {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:  # 503 while loading; a problem (no index) does not go away
            problem = json.loads(exc.read() or b"{}").get("error", "")
            if problem and "loading" not in problem:
                raise LoadTestError(f"the server is not ready: {problem}") from exc
        except OSError:
            pass
        time.sleep(0.5)
    raise LoadTestError(f"the server was not ready after {READY_TIMEOUT:g} s: {log.read_text()[-2000:]}")


def run_locust(config: LoadConfig, base: str, results_file: Path) -> None:
    """Headless locust for `duration` seconds; every user then finishes its current action (up to the timeout)."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--users", str(config.users), "--spawn-rate", str(config.users), "--run-time", f"{config.duration}s",
        "--stop-timeout", str(int(config.request_timeout) + 5), "--host", base, "--loglevel", "WARNING",
        "--design", str(config.design), "--results-file", str(results_file),
        "--request-timeout", str(config.request_timeout),
    ]
    limit = config.duration + 2 * config.request_timeout + 120
    try:
        subprocess.run(command, cwd=PROJECT_ROOT, timeout=limit, stdout=sys.stderr, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LoadTestError(f"locust did not stop within {limit:g} s") from exc
    if not results_file.is_file():
        raise LoadTestError("locust wrote no results (see its output above)")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (uvicorn finishes its requests), then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- figures ---------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def endpoint_figures(requests: list[dict], seconds: float, timeout: float) -> dict:
    """Per endpoint: requests, throughput, p50/p95/p99/max, statuses, errors and hung requests."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for row in requests:
        by_name[row["name"]].append(row)
    figures = {}
    for name in sorted(set(ENDPOINTS) | set(by_name)):
        rows = by_name.get(name, [])
        times = [r["ms"] for r in rows]
        figures[name] = {
            "requests": len(rows), "per_second": round(len(rows) / seconds, 2) if seconds else 0.0,
            **({f"p{q}_ms": round(percentile(times, q), 1) for q in (50, 95, 99)} if times else {}),
            "max_ms": round(max(times), 1) if times else None,
            "statuses": dict(sorted(Counter(str(r["status"]) for r in rows).items())),
            "errors": sum(r["error"] is not None for r in rows),
            "hung": sum(is_hung(r, timeout) for r in rows),
        }
    return figures


def is_hung(row: dict, timeout: float) -> bool:
    """No answer within the client timeout: timed out, or answered later than it."""
    return "timeout" in (row["error"] or "").lower() or "timed out" in (row["error"] or "").lower() \
        or row["ms"] > timeout * 1000


def wall_seconds(requests: list[dict]) -> float:
    if not requests:
        return 0.0
    first = min(r["start"] for r in requests)
    last = max(r["start"] + r["ms"] / 1000 for r in requests)
    return max(last - first, 1e-9)


def answer_figures(answers: list[dict], primary: str) -> dict:
    """Who answered; a fallback is an answer (not a decline) by a backend other than the first, as the app counts it."""
    return {
        "answers": len(answers),
        "by_backend": dict(sorted(Counter(str(a["backend"]) for a in answers).items())),
        "declined": sum(a["refused"] for a in answers),
        "fallbacks": sum(not a["refused"] and a["backend"] != primary for a in answers),
        "after_failed_llm_attempts": sum(a["failed_attempts"] > 0 for a in answers),
        "llm_retries": sum(a["retries"] for a in answers),
    }


def review_figures(reviews: list[dict]) -> dict:
    return {
        "reviews": len(reviews),
        "assessors": dict(sorted(Counter(str(r["assessor"]) for r in reviews).items())),
        "items_judged_by_model": sum(r["judged_by_model"] for r in reviews),
        "items_judged_by_rule": sum(r["judged_by_rule"] for r in reviews),
        "reviews_with_notes": sum(r["notes"] > 0 for r in reviews),
    }


# -- the database ----------------------------------------------------------------------------------------------


def check_writes(database_url: str, turns: list[dict]) -> dict:
    """Every acknowledged conversation turn must be in the database: its question and its answer, in its
    conversation. Counted as expected (acknowledged) and found."""
    import sqlalchemy as sa

    from app.storage.database import open_database
    from app.storage.schema import conversations, messages

    engine = open_database(database_url)
    wanted: dict[str, Counter] = defaultdict(Counter)
    for turn in turns:
        wanted[turn["conversation"]].update([("user", turn["question"]), ("assistant", turn["answer"])])
    with engine.connect() as db:
        stored = Counter(db.execute(sa.select(messages.c.conversation_id, messages.c.role, messages.c.content)).all())
        stored_conversations = {row[0] for row in db.execute(sa.select(conversations.c.id)).all()}
        all_messages = db.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one()
    engine.dispose()
    found_messages = sum(min(n, stored[(c, role, text)]) for c, want in wanted.items() for (role, text), n in want.items())
    expected_messages = sum(sum(want.values()) for want in wanted.values())
    found_conversations = len(set(wanted) & stored_conversations)
    return {
        "conversation_turns_acknowledged": len(turns),
        "conversations": {"expected": len(wanted), "found": found_conversations},
        "messages": {"expected": expected_messages, "found": found_messages},
        "lost": (expected_messages - found_messages) + (len(wanted) - found_conversations),
        "database_totals": {"conversations": len(stored_conversations), "messages": all_messages},
        "feedback": "no API endpoint (feedback is given in the UI only)",
        "saved_reviews": "no API endpoint (a review is saved from the CLI or the UI)",
    }


def llm_calls(database_url: str) -> dict:
    """The LLM calls the server made (its usage log): attempts and failed attempts, by purpose."""
    import sqlalchemy as sa

    from app.storage.database import open_database
    from app.storage.schema import llm_usage

    engine = open_database(database_url)
    with engine.connect() as db:
        rows = db.execute(sa.select(llm_usage.c.purpose, llm_usage.c.ok, sa.func.count()).group_by(
            llm_usage.c.purpose, llm_usage.c.ok)).all()
    engine.dispose()
    calls = Counter()
    failed = Counter()
    for purpose, ok, count in rows:
        calls[purpose] += count
        if not ok:
            failed[purpose] += count
    return {"calls": sum(calls.values()), "failed": sum(failed.values()),
            "by_purpose": {p: {"calls": calls[p], "failed": failed[p]} for p in sorted(calls)}}


# -- the run ---------------------------------------------------------------------------------------------------


def run(config: LoadConfig) -> dict:
    """Start the fake LLM (if any) and the server, run the load, stop them, and return the report."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="waf-loadtest-") as tmp:
        work = Path(tmp)
        fake, llm_url = (None, None)
        if config.llm != "extractive":
            fake, llm_url = start_fake_llm(FLAKY_FAIL_RATE if config.llm == "flaky" else 0.0, work)
        try:
            server, base, startup = start_server(config, work, llm_url)
            try:
                run_locust(config, base, work / "locust.json")
            finally:
                stop(server)
        finally:
            if fake is not None:
                stop(fake)
        raw = json.loads((work / "locust.json").read_text(encoding="utf-8"))
        database = f"sqlite:///{work / 'data' / 'waf.sqlite'}"
        report = summarise(config, raw, check_writes(database, raw["turns"]), startup, load_before)
        if config.llm != "extractive":
            report["llm"] = {**llm_calls(database), "fake_server": _read_json(work / "fake-llm.json")}
        report["server_log_errors"] = _log_errors(work / "server.log")
        if config.server_log:
            shutil.copyfile(work / "server.log", config.server_log)
    return report


def summarise(config: LoadConfig, raw: dict, writes: dict, startup: float, load_before: tuple) -> dict:
    requests = raw["requests"]
    seconds = wall_seconds(requests)
    endpoints = endpoint_figures(requests, seconds, config.request_timeout)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.machine(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "load": {"users": config.users, "duration_s": config.duration, "llm": config.llm,
                 "llm_fail_rate": FLAKY_FAIL_RATE if config.llm == "flaky" else 0.0,
                 "request_timeout_s": config.request_timeout, "design": config.design.name},
        "server_startup_s": round(startup, 1),
        "seconds": round(seconds, 1),
        "requests": len(requests),
        "throughput_per_second": round(len(requests) / seconds, 2) if seconds else 0.0,
        "errors": sum(r["error"] is not None for r in requests),
        "status_5xx": sum(r["status"] >= 500 for r in requests),
        "broken_streams": sum(r["status"] == 200 and r["error"] is not None for r in requests),
        "hung": sum(is_hung(r, config.request_timeout) for r in requests),
        "slowest_ms": round(max((r["ms"] for r in requests), default=0.0), 1),
        "endpoints": endpoints,
        "writes": writes,
        "answers": answer_figures(raw["answers"], config.primary_backend),
        "reviews": review_figures(raw["reviews"]),
        "error_samples": sorted({r["error"] for r in requests if r["error"]})[:10],
    }
    report["problems"] = problems(report)
    report["ok"] = not report["problems"]
    return report


def problems(report: dict) -> list[str]:
    found = []
    if report["writes"]["lost"]:
        found.append(f"{report['writes']['lost']} acknowledged write(s) missing from the database")
    for key, what in (("status_5xx", "5xx response(s)"), ("broken_streams", "broken stream(s)"),
                      ("hung", "request(s) past the client timeout or unanswered")):
        if report[key]:
            found.append(f"{report[key]} {what}")
    unanswered = sum(r["statuses"].get("0", 0) for r in report["endpoints"].values())
    if unanswered:
        found.append(f"{unanswered} request(s) got no response")
    found += [f"no request reached {name}" for name in ENDPOINTS if not report["endpoints"][name]["requests"]]
    return found


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _log_errors(path: Path) -> dict:
    """Tracebacks in the server log, with their distinct exception lines (the API answers JSON errors; a
    traceback there is logged by the server, e.g. an LLM failure it recovered from)."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    kinds = Counter()
    for block in text.split("Traceback (most recent call last):")[1:]:
        ending = next((line for line in block.splitlines() if line and not line.startswith((" ", "\t"))), "?")
        kinds[re.sub(r"0x[0-9a-f]+", "0x…", ending)[:200]] += 1
    return {"tracebacks": sum(kinds.values()), "kinds": dict(kinds.most_common(5))}


def render(report: dict) -> str:
    lines = [
        f"{report['load']['users']} users, {report['load']['duration_s']} s, LLM {report['load']['llm']}: "
        f"{report['requests']} requests in {report['seconds']} s = {report['throughput_per_second']}/s; "
        f"errors {report['errors']}, 5xx {report['status_5xx']}, hung {report['hung']}",
    ]
    for name, e in report["endpoints"].items():
        if e["requests"]:
            lines.append(f"  {name:15} {e['requests']:5} req {e['per_second']:6}/s  p50 {e['p50_ms']:8} ms  "
                         f"p95 {e['p95_ms']:8} ms  p99 {e['p99_ms']:8} ms  max {e['max_ms']:8} ms  statuses {e['statuses']}")
    w = report["writes"]
    lines.append(f"  writes: {w['conversation_turns_acknowledged']} acknowledged turns; conversations "
                 f"{w['conversations']['found']}/{w['conversations']['expected']}, messages "
                 f"{w['messages']['found']}/{w['messages']['expected']} found; lost {w['lost']}")
    a = report["answers"]
    lines.append(f"  answers: {a['answers']} by {a['by_backend']}; fallbacks {a['fallbacks']}, declined {a['declined']}")
    if "llm" in report:
        lines.append(f"  LLM calls: {report['llm']['calls']}, failed {report['llm']['failed']}; "
                     f"fake server {report['llm']['fake_server']}")
    lines.append("OK" if report["ok"] else "FAILED: " + "; ".join(report["problems"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--llm", choices=["extractive", "fake", "flaky"], default="extractive")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="client timeout of each request (s)")
    parser.add_argument("--design", type=Path, default=DEFAULT_DESIGN, help="the document uploaded to /review")
    parser.add_argument("--out", type=Path, help="default eval/results/loadtest.json (loadtest-<llm>.json)")
    parser.add_argument("--server-log", type=Path, help="keep a copy of the server's log here")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration < 1:
        parser.error("--users and --duration must be at least 1")
    out = args.out or RESULTS / ("loadtest.json" if args.llm == "extractive" else f"loadtest-{args.llm}.json")
    config = LoadConfig(args.users, args.duration, args.llm, args.request_timeout, args.design.resolve(), args.server_log)
    try:
        report = run(config)
    except LoadTestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(render(report) + f"\nwritten to {out}", file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
