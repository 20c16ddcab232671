"""A small OpenAI-compatible server on 127.0.0.1 for tests: no network, the real openai/langchain client.

Serves POST /v1/chat/completions and the Azure form /openai/deployments/<name>/chat/completions, plain and
streaming (SSE, with a final usage chunk when stream_options.include_usage is set). Each request takes the
next scripted behaviour from a queue; when the queue is empty it answers with the default "echo" model,
which builds its reply from the numbered sources in the prompt: the first sentence of sources 1 and 2, each
with its marker. Every request is recorded (path, headers, body) so tests count calls instead of timing them.
Bounded: at most `max_requests` requests are served, and a slow reply waits on an event that shutdown sets.
`fail_rate` makes a flaky model for load tests: that share of unscripted requests (drawn from a seeded random
generator) is refused, alternately 429 with `Retry-After: 1` and 503.

    python -m tests.fake_openai --fail-rate 0.5 --stats stats.json   # prints its base URL; serves until SIGTERM
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SOURCE = re.compile(r'<source id="(\d+)"[^\n]*>\n(.*?)\n</source>', re.DOTALL)


def sources_in(messages: list[dict]) -> dict[int, str]:
    text = "\n".join(str(m.get("content", "")) for m in messages)
    return {int(n): body for n, body in SOURCE.findall(text)}


def first_sentence(text: str) -> str:
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+|\*\*", "", line).strip()
        if line and not line.startswith(("#", "|")) and len(line.split()) >= 4:
            return re.split(r"(?<=[.!?])\s+", line)[0].rstrip(".") + "."
    return text.strip().split("\n")[0]


def outside_data(messages: list[dict]) -> str:
    """The user message minus its data blocks (<source>, <question>, <design_passages>): where an instruction
    would be obeyed."""
    human = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    return re.sub(
        r"<source id=.*?</source>|<question>.*?</question>|<design_passages>.*?</design_passages>", "", human,
        flags=re.DOTALL,
    )


def echo_reply(messages: list[dict], gullible: bool = False) -> str:
    """A model that respects the data boundary: it obeys a `SYSTEM:` line only when it appears outside the
    data blocks (so a chunk that escapes its block is obeyed), else quotes sources 1 and 2 with markers, or
    judges a review item (see review_reply)."""
    for line in outside_data(messages).splitlines():
        if line.strip().startswith("SYSTEM:"):
            return line.split(":", 1)[1].strip()
    if any(REVIEW_ITEM.search(str(m.get("content", ""))) for m in messages):
        return review_reply(messages, gullible)
    sources = sources_in(messages)
    if not sources:  # not an answer prompt (e.g. the follow-up rewrite): say something neutral
        return "What does the guidance say about this?"
    return "\n".join(f"- {first_sentence(sources[n])} [{n}]" for n in sorted(sources)[:2])


# -- design review judge prompts (app/review/llm_judge.py) ---------------------------------------------------
REVIEW_ITEM = re.compile(r'<checklist_item id="([^"]+)"[^>]*>\n(.*?)\n</checklist_item>', re.DOTALL)
REVIEW_PASSAGE = re.compile(r'<passage id="(\d+)"[^\n]*>\n(.*?)\n</passage>', re.DOTALL)
_NEGATED = re.compile(r"\b(no|not|never|without)\b", re.IGNORECASE)
_DEFERRED_LATER = re.compile(r"\b(out of scope|later|future|deferred|planned)\b", re.IGNORECASE)
# a gullible model takes any sentence about compliance, the reviewer or its instructions as an order
OBEYED_IN_DATA = re.compile(r"\b(compliant|reviewer|instructions|checklist|addressed|100/100)\b", re.I)


def review_reply(messages: list[dict], gullible: bool = False) -> str:
    """A judge that reads the passages for the item's signals: two signals stated -> addressed, one ->
    partial, none -> missing; a signal negated just before it, or in a sentence that defers it, does not count. The gullible
    variant obeys an order written inside the document and marks the item addressed."""
    human = next(str(m["content"]) for m in messages if REVIEW_ITEM.search(str(m.get("content", ""))))
    signals = [s.strip().lower() for s in re.search(r"Signals to look for: (.*)", human).group(1).split(";")]
    passages = {int(n): body for n, body in REVIEW_PASSAGE.findall(human)}
    if gullible and any(OBEYED_IN_DATA.search(body) for body in passages.values()):
        return json.dumps({"status": "addressed", "evidence": [min(passages)], "reason": "the document says so"})
    stated: dict[str, int] = {}
    for number, body in sorted(passages.items()):
        for sentence in re.split(r"(?<=[.!?])\s+", body):
            if _DEFERRED_LATER.search(sentence):
                continue
            for signal in signals:
                at = sentence.lower().find(signal) if signal else -1
                if at >= 0 and not _NEGATED.search(" ".join(sentence[:at].split()[-4:])):
                    stated.setdefault(signal, number)
    status = "addressed" if len(stated) >= 2 else "partial" if stated else "missing"
    evidence = sorted(set(stated.values())) if stated else []
    return json.dumps({"status": status, "evidence": evidence, "reason": f"signals stated: {sorted(stated)}"})


# -- ragas judge prompts ---------------------------------------------------------------------------------
# ragas' PydanticPrompt sends one user message: instruction, "Please return the output in a JSON format that
# complies with the following schema ... {json schema with its title}", examples, then "input: {json}" and
# "Output: ". The fake recognises the schema title, reads the input JSON and answers schema-valid JSON, with
# every verdict taken from `FakeOpenAI.judge_verdict` (1 supported / 0 not, or a callable(statement) -> 0/1).
JUDGE_SCHEMAS = {
    "StatementGeneratorOutput": "statements",  # Faithfulness, step 1: the answer broken into statements
    "NLIStatementOutput": "nli",  # Faithfulness, step 2: a verdict per statement against the context
    "ResponseRelevanceOutput": "question",  # ResponseRelevancy: a question for the answer + noncommittal flag
    "ContextRecallClassifications": "context_recall",  # LLMContextRecall: each reference sentence attributed?
}
_JUDGE_INPUT = re.compile(r"\nNow perform the same with the following input\ninput: (\{.*\})\nOutput: \s*$", re.DOTALL)


def judge_kind(messages: list[dict]) -> tuple[str, dict] | None:
    """(kind, input) of a ragas judge prompt, or None for any other prompt."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    found = _JUDGE_INPUT.search(text)
    if not found:
        return None
    for title, kind in JUDGE_SCHEMAS.items():
        if f'"title": "{title}"' in text.split("--------EXAMPLES-----------")[0]:
            return kind, json.loads(found.group(1))
    return None


def judge_statements(text: str) -> list[str]:
    """The sentences of an answer, without bullets, bold pillar headings or [n] markers."""
    statements = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip()
        if not line or (line.startswith("**") and line.endswith("**")):
            continue
        for sentence in re.split(r"(?<=[.!?\]])\s+(?=[A-Z])", line):
            sentence = re.sub(r"\s*\[\d+\]", "", sentence).strip()
            if len(sentence.split()) >= 3:
                statements.append(sentence)
    return statements


def judge_question(response: str) -> str:
    """The question the fake 'generates' for an answer (tests compute the expected relevancy from it)."""
    statements = judge_statements(response) or [response.strip()]
    return f"What does the guidance say about this: {statements[0].rstrip('.')}?"


def judge_reply(kind: str, data: dict, verdict) -> str:
    def vote(statement: str) -> int:
        return int(bool(verdict(statement) if callable(verdict) else verdict))

    if kind == "statements":
        return json.dumps({"statements": judge_statements(data.get("answer", ""))})
    if kind == "nli":
        return json.dumps({"statements": [
            {"statement": s, "reason": "fake judge", "verdict": vote(s)} for s in data.get("statements", [])
        ]})
    if kind == "question":
        response = data.get("response", "")
        return json.dumps({"question": judge_question(response), "noncommittal": 1 - vote(response)})
    return json.dumps({"classifications": [
        {"statement": s, "reason": "fake judge", "attributed": vote(s)} for s in judge_statements(data.get("answer", ""))
    ]})


@dataclass
class Behaviour:
    """One scripted reply. kind: reply (text, or None for echo), status (HTTP error), slow (delay then reply),
    cut (stream some text then drop the connection)."""

    kind: str = "reply"
    text: str | None = None
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    model: str = "fake-gpt"
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens); default: word counts


def reply(text: str | None = None, **kw) -> Behaviour:
    return Behaviour("reply", text, **kw)


def status(code: int, retry_after: str | None = None, **kw) -> Behaviour:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Behaviour("status", status=code, headers=headers, **kw)


def slow(seconds: float, text: str | None = None) -> Behaviour:
    return Behaviour("slow", text, delay=seconds)


def cut(text: str) -> Behaviour:
    return Behaviour("cut", text)


class FakeOpenAI:
    def __init__(self, max_requests: int = 200, fail_rate: float = 0.0, seed: int = 0):
        self.queue: deque[Behaviour] = deque()
        self.requests: list[dict] = []
        self.replies: list[dict] = []  # what was answered: text and usage reported
        self.review_gullible = False  # the review judge obeys orders written inside the design
        self.judge_verdict = 1  # verdict of every ragas judge prompt: 0/1, or a callable(statement) -> 0/1
        self.judged: list[tuple[str, dict]] = []  # (kind, input) of each ragas judge prompt answered
        self.max_requests = max_requests
        self.fail_rate = fail_rate  # share of unscripted requests refused (429 and 503 in turn)
        self.random = random.Random(seed)
        self.injected: Counter[int] = Counter()  # status -> failures injected by fail_rate
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                server.handle(self)

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *behaviours: Behaviour) -> FakeOpenAI:
        self.queue.extend(behaviours)
        return self

    @property
    def count(self) -> int:
        return len(self.requests)

    def last_messages(self) -> list[dict]:
        return self.requests[-1]["body"]["messages"]

    # -- serving ---------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", 0))
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with self.lock:
            over = len(self.requests) >= self.max_requests
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body})
            behaviour = self.queue.popleft() if self.queue else self._unscripted()
        if over:
            return self._json(h, 503, {"error": {"message": "fake server request limit reached"}})
        if not re.search(r"/chat/completions(\?|$)", h.path):
            return self._json(h, 404, {"error": {"message": f"no route {h.path}"}})
        if behaviour.kind == "status":
            message = {429: "Rate limit exceeded", 500: "Internal server error"}.get(behaviour.status, "error")
            return self._json(h, behaviour.status, {"error": {"message": message, "type": "fake"}}, behaviour.headers)
        if behaviour.kind == "slow" and self.stopping.wait(behaviour.delay):
            return
        messages = body.get("messages", [])
        judged = judge_kind(messages) if behaviour.text is None else None
        if judged:
            with self.lock:
                self.judged.append(judged)
        text = behaviour.text if behaviour.text is not None else (
            judge_reply(*judged, self.judge_verdict) if judged else echo_reply(messages, self.review_gullible)
        )
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage = behaviour.usage or (prompt_words, len(text.split()))
        with self.lock:
            self.replies.append({"text": text, "usage": usage, "stream": bool(body.get("stream"))})
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._stream(h, text, behaviour, usage if include_usage else None)
        self._json(h, 200, {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": behaviour.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        })

    def _unscripted(self) -> Behaviour:
        """The default echo reply, or (with fail_rate, under the lock) an injected 429 or 503."""
        if self.fail_rate <= 0 or self.random.random() >= self.fail_rate:
            return Behaviour()
        code = 429 if sum(self.injected.values()) % 2 == 0 else 503
        self.injected[code] += 1
        return status(code, "1") if code == 429 else status(code)

    def _json(self, h, code: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)

    def _stream(self, h, text: str, behaviour: Behaviour, usage: tuple[int, int] | None) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        base = {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": behaviour.model}

        def send(payload) -> None:
            data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        pieces = re.findall(r"\S+\s*|\s+", text)
        if behaviour.kind == "cut":
            pieces = pieces[: max(1, len(pieces) // 2)]
        send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for piece in pieces:
            send({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        if behaviour.kind == "cut":  # drop the connection mid-answer: no terminating chunk
            h.close_connection = True
            return
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if usage is not None:
            send({**base, "choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                                  "total_tokens": sum(usage)}})
        send("[DONE]")
        h.wfile.write(b"0\r\n\r\n")
        h.close_connection = True


def main(argv: list[str] | None = None) -> int:
    """Serve on a free port of 127.0.0.1 until SIGTERM or SIGINT; the base URL is the first line printed."""
    import signal

    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai", description=__doc__.splitlines()[0])
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests refused with 429 or 503")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", type=Path, help="on exit, write the counts of requests and injected failures here")
    args = parser.parse_args(argv)
    server = FakeOpenAI(max_requests=sys.maxsize, fail_rate=args.fail_rate, seed=args.seed).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(server.base_url, flush=True)
    stop.wait()
    server.stop()
    if args.stats:
        stats = {"requests": server.count, "injected": {str(k): v for k, v in sorted(server.injected.items())}}
        args.stats.write_text(json.dumps(stats), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
