"""The simulated users of the load test: architects who ask, chat (streamed) and upload a design for review.

Run by eval/loadtest.py (`make loadtest`), which starts the server and reads what this file writes; by hand:

    .venv/bin/locust -f eval/locustfile.py --headless -u 4 -r 4 -t 30s --host http://127.0.0.1:8000 \\
        --design eval/designs/realtime-vision-inference.md --results-file /tmp/load.json

Each user walks the same cycle of actions (/ask, streamed /chat, /review, /ask, streamed /chat), starting at a
different place, so even a run of a few seconds with two users reaches every endpoint. A streamed /chat is read to
its last NDJSON line and timed to it (locust alone would time a stream to its headers only); half of them get a
follow-up turn in the same conversation. On exit this file writes, as JSON: every request (name, start, duration,
status, error), every conversation turn the server acknowledged (its final chunk arrived: the database must have
it), and which backend produced each answer, for eval/loadtest.py to check and summarise.

Runs inside locust's gevent process: it imports nothing from the project.
"""
from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import requests
from locust import HttpUser, between, events, task

CYCLE = ("ask", "chat", "review", "ask", "chat")
QUESTIONS = (
    "How should I protect an Azure OpenAI inference endpoint?",
    "PTU or pay-as-you-go for a steady chatbot workload?",
    "How do I keep a GPT-4o chatbot up in a regional outage?",
    "What should we log for a RAG application without leaking personal data?",
    "How do we handle 429 throttling from the model API?",
    "How often should we re-evaluate a fine-tuned model in production?",
    "How do I choose a chunk size for retrieval-augmented generation?",
    "What does the guidance say about grounding data access control?",
    "How should we version prompts and deploy them safely?",
    "How can we cut the token cost of a high-volume assistant?",
)
FOLLOW_UPS = ("And what about cost?", "How would we monitor that?", "What are the security risks there?")

RESULTS: dict[str, list[dict[str, Any]]] = {"requests": [], "turns": [], "answers": [], "reviews": []}
_user_numbers = itertools.count()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--design", default="eval/designs/realtime-vision-inference.md", help="document uploaded to /review")
    parser.add_argument("--results-file", default="", help="where the requests, turns and answers are written on exit")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="client timeout of each request (s)")


@events.request.add_listener
def _record(name: str, response_time: float, response=None, exception=None, start_time: float | None = None, **_) -> None:
    RESULTS["requests"].append({
        "name": name, "start": start_time, "ms": round(response_time, 1),
        "status": int(getattr(response, "status_code", 0) or 0),
        "error": None if exception is None else f"{type(exception).__name__}: {exception}"[:300],
    })


@events.quitting.add_listener
def _write(environment, **_) -> None:
    target = environment.parsed_options.results_file if environment.parsed_options else ""
    if target:
        Path(target).write_text(json.dumps(RESULTS), encoding="utf-8")


class Architect(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        number = next(_user_numbers)
        self.step = 2 * number  # user 0 starts with /ask, user 1 with /review, user 2 with /chat...
        self.rng = random.Random(number)
        options = self.environment.parsed_options
        self.timeout = options.request_timeout
        self.design = Path(options.design)
        self.design_bytes = self.design.read_bytes()

    @task
    def next_action(self) -> None:
        action = CYCLE[self.step % len(CYCLE)]
        self.step += 1
        getattr(self, action)()

    def ask(self) -> None:
        with self.client.post("/ask", json={"question": self.rng.choice(QUESTIONS)}, name="/ask", catch_response=True,
                              timeout=self.timeout) as response:
            if response.status_code == 200:
                _answer("/ask", _json(response))

    def chat(self) -> None:
        question = self.rng.choice(QUESTIONS)
        first = self._chat_turn([{"role": "user", "content": question}], None)
        if first is None or self.rng.random() < 0.5:
            return
        follow_up = [{"role": "user", "content": question}, first["message"],
                     {"role": "user", "content": self.rng.choice(FOLLOW_UPS)}]
        self._chat_turn(follow_up, first["session_state"])

    def _chat_turn(self, messages: list[dict], conversation: str | None) -> dict | None:
        """One streamed turn, read to its final chunk; the turn is recorded as acknowledged when that chunk arrived."""
        body: dict[str, Any] = {"messages": messages, "stream": True}
        if conversation:
            body["session_state"] = conversation
        started = time.perf_counter()
        with self.client.post("/chat", json=body, stream=True, name="/chat (stream)", catch_response=True,
                              timeout=self.timeout) as response:
            if response.status_code != 200:
                return None
            try:
                lines = [json.loads(line) for line in response.iter_lines() if line]
            except (requests.RequestException, ValueError) as exc:
                response.failure(f"stream broken: {type(exc).__name__}: {exc}")
                return None
            finally:
                response.request_meta["response_time"] = (time.perf_counter() - started) * 1000
            final = lines[-1] if lines else {}
            if "message" not in final:
                response.failure(f"stream ended without the answer: {final.get('error', 'no final chunk')}")
                return None
            session = final.get("session_state")
            RESULTS["turns"].append({"conversation": session, "question": messages[-1]["content"],
                                     "answer": final["message"]["content"]})
            _answer("/chat (stream)", final.get("context", {}).get("answer") or {})
            return {"session_state": session, "message": final["message"]}

    def review(self) -> None:
        upload = {"file": (self.design.name, self.design_bytes, "text/markdown")}
        with self.client.post("/review", files=upload, name="/review", catch_response=True,
                              timeout=self.timeout) as response:
            if response.status_code != 200:
                return
            report = _json(response)
            findings = report.get("findings") or []
            judged = [f.get("assessed_by", "rule") for f in findings if f.get("status") != "not-applicable"]
            RESULTS["reviews"].append({"assessor": report.get("assessor"), "findings": len(findings),
                                       "judged_by_rule": judged.count("rule"),
                                       "judged_by_model": len(judged) - judged.count("rule"),
                                       "notes": len(report.get("notes") or [])})


def _json(response) -> dict:
    try:
        return response.json()
    except ValueError:
        response.failure("the body is not JSON")
        return {}


def _answer(endpoint: str, answer: dict) -> None:
    """Who answered: the backend, whether it declined, and the LLM attempts that failed before it."""
    attempts = answer.get("attempts") or []
    RESULTS["answers"].append({
        "endpoint": endpoint, "backend": answer.get("backend"), "refused": bool(answer.get("refused")),
        "failed_attempts": sum(not a.get("ok") for a in attempts),
        "retries": sum(int(a.get("retries") or 0) for a in attempts),
    })
