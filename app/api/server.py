"""`waf-assistant serve`: the assistant and the reviewer over HTTP, loaded once per process.

    POST /ask            {question, pillar?, history?} -> the Answer JSON (what `ask --json` prints)
    POST /chat           Microsoft AI Chat Protocol: {messages, stream?, context?: {overrides: {pillar}},
                         session_state?: conversation id}; with stream: newline-delimited JSON deltas, then the
                         final answer with its citations in `context`; the turn is saved in the user's conversation
    POST /review         multipart `file` (+ optional `overrides` JSON) -> the review report JSON
    GET/DELETE /conversations[/{id}]   the caller's own conversations
    GET /healthz (alive), GET /readyz (index and model loaded), /docs (OpenAPI)

Every error is JSON `{"error": "..."}` naming the problem, with its status: 400 bad input, 401/403 sign-in,
404 not found (including another user's conversation), 413 too large, 422 malformed request, 429 rate limit
(with Retry-After), 503 not ready or no backend answered; never a traceback.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app import telemetry
from app.auth import ANONYMOUS, AuthError, Principal, TokenValidator, bearer_token
from app.conversation.store import ConversationNotFound, ConversationStore
from app.ratelimit import RateLimited, RateLimiter
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)
MAX_QUESTION = 4000


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=20000)


class AskRequest(BaseModel):
    question: str = Field(max_length=MAX_QUESTION, description="the question")
    pillar: str | None = Field(None, description="only guidance of this pillar, e.g. security")
    history: list[ChatMessage] = Field(default_factory=list, description="earlier turns, for a follow-up")


class ChatRequest(BaseModel):
    """Microsoft AI Chat Protocol request."""

    messages: list[ChatMessage] = Field(min_length=1, description="the conversation; the last one is the user's question")
    stream: bool = False
    context: dict = Field(default_factory=dict, description="`overrides`: {`pillar`: ...}")
    session_state: str | None = Field(None, description="the conversation id returned by an earlier turn")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Services:
    """What every request shares: loaded once per process."""

    settings: Settings
    conversations: ConversationStore
    limiter: RateLimiter
    validator: TokenValidator | None
    assistant: object | None = None
    reviewer: object | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    problem: str = "loading the model and the index"

    @classmethod
    def open(cls, settings: Settings) -> Services:
        from app.storage.database import open_database

        validator = None
        if settings.auth_issuer:
            validator = TokenValidator(
                settings.auth_issuer, settings.auth_audience, settings.auth_required_roles, settings.auth_allowed_groups
            )
        return cls(settings, ConversationStore(open_database(settings.database)), RateLimiter.from_settings(settings),
                   validator)

    def load(self) -> None:
        """The model, the index and the reviewer; /readyz says what failed when they cannot be loaded."""
        try:
            from app.assistant import Assistant
            from app.review.service import Reviewer

            self.assistant = Assistant.open(self.settings)
            self.reviewer = Reviewer.open(self.settings, self.assistant.index.embedder, self.assistant.retriever)
            self.problem = ""
        except Exception as exc:  # reported by /readyz and every request that needs them
            log.exception("loading failed")
            self.problem = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    def need(self, what: str):
        if not self.ready.is_set() or self.problem:
            raise ApiError(503, f"not ready: {self.problem or 'still loading'}")
        return getattr(self, what)


def current_user(request: Request) -> Principal:
    """The signed-in caller from the bearer token, or the local user when sign-in is off."""
    validator = request.app.state.services.validator
    if validator is None:
        return ANONYMOUS
    return validator.validate(bearer_token(request.headers.get("authorization")))


Caller = Annotated[Principal, Depends(current_user)]


def create_app(settings: Settings | None = None, services: Services | None = None, load_in_background: bool = True) -> FastAPI:
    settings = settings or get_settings()
    services = services or Services.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if not services.ready.is_set():
            if load_in_background:
                threading.Thread(target=services.load, name="load-services", daemon=True).start()
            else:
                services.load()
        yield

    app = FastAPI(
        title="WAF for AI assistant", version="1",
        description="Azure Well-Architected guidance for AI workloads, answered with citations; design reviews.",
        lifespan=lifespan,
    )
    app.state.services = services
    _error_handlers(app)
    telemetry.configure_telemetry()

    @app.middleware("http")
    async def measure_request(request: Request, call_next):
        """Each request's latency in the metrics (FastAPI itself opens the server span of each request)."""
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        telemetry.REQUEST_DURATION.record(
            (time.perf_counter() - started) * 1000,
            {"route": getattr(route, "path", "other"), "method": request.method, "status": response.status_code},
        )
        return response

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        if services.ready.is_set() and not services.problem:
            manifest = getattr(services.assistant.index, "manifest", {}) or {}
            return JSONResponse({"status": "ready", "index_version": manifest.get("version"),
                                 "chunks": manifest.get("chunk_count"), "backend": settings.llm_backend})
        return JSONResponse({"status": "not ready", "error": services.problem or "still loading"}, status_code=503)

    @app.post("/ask")
    def ask(body: AskRequest, who: Caller) -> dict:
        _question(body.question)
        services.limiter.hit(who.user_id, "questions")
        assistant = services.need("assistant")
        history = [m.model_dump() for m in body.history[-settings.api_max_history_messages:]]
        answer = assistant.ask(body.question, body.pillar, history=history)
        return {**answer.to_dict(), "display_text": answer.display_text()}

    @app.post("/chat", response_model=None)
    def chat(body: ChatRequest, who: Caller) -> dict | StreamingResponse:
        question_message = body.messages[-1]
        if question_message.role != "user":
            raise ApiError(400, "the last message must be the user's question (role 'user')")
        question = _question(question_message.content)
        pillar = (body.context.get("overrides") or {}).get("pillar") if isinstance(body.context, dict) else None
        services.limiter.hit(who.user_id, "questions")
        assistant = services.need("assistant")
        store = services.conversations
        conversation = body.session_state or store.create(who.user_id, question)
        store.append(who.user_id, conversation, "user", question)  # 404 for another user's conversation id
        history = [m.model_dump() for m in body.messages[:-1] if m.role != "system"][-settings.api_max_history_messages:]
        if not body.stream:
            answer = assistant.ask(question, pillar, history=history)
            store.append(who.user_id, conversation, "assistant", answer.text, answer.to_dict())
            return {"message": {"role": "assistant", "content": answer.text}, "context": _context(answer),
                    "session_state": conversation}
        return StreamingResponse(
            _stream(assistant, store, who, conversation, question, pillar, history), media_type="application/x-ndjson"
        )

    @app.get("/conversations")
    def list_conversations(who: Caller) -> list[dict]:
        return [c.to_dict() for c in services.conversations.list(who.user_id)]

    @app.get("/conversations/{conversation_id}")
    def get_conversation(conversation_id: str, who: Caller) -> dict:
        found = services.conversations.messages(who.user_id, conversation_id)
        return {"id": conversation_id, "messages": [m.to_dict() for m in found]}

    @app.delete("/conversations/{conversation_id}", status_code=204)
    def delete_conversation(conversation_id: str, who: Caller) -> None:
        services.conversations.delete(who.user_id, conversation_id)

    @app.post("/review")
    def review(
        file: Annotated[UploadFile, File(description="the design document: Markdown, text, PDF or Word")],
        who: Caller,
        overrides: Annotated[
            str | None, Form(description='JSON: {"SEC-01": {"status": "addressed", "note": "..."}}')
        ] = None,
    ) -> dict:
        from app.review.overrides import apply_overrides, parse_overrides

        limit = settings.review_max_upload_mb * 1024 * 1024
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, f"{file.filename}: over the {settings.review_max_upload_mb} MB limit")
        parsed = {}
        if overrides:
            try:
                parsed = parse_overrides(json.loads(overrides), "overrides")
            except json.JSONDecodeError as exc:
                raise ApiError(400, f"overrides: not JSON ({exc.msg})") from exc
        services.limiter.hit(who.user_id, "reviews")
        report = services.need("reviewer").review_bytes(data, file.filename or "design")
        if parsed:
            report = apply_overrides(report, parsed)
        return json.loads(report.to_json())

    return app


def _question(text: str) -> str:
    question = text.strip()
    if not question:
        raise ApiError(400, "the question is empty")
    return question


def _context(answer) -> dict:
    """The AI Chat Protocol `context` of an answer: its citations, passages and follow-ups, and the whole answer."""
    data = answer.to_dict()
    return {
        "data_points": {"citations": data["citations"], "passages": data["passages"]},
        "followup_questions": data.get("follow_ups") or data.get("suggestions") or [],
        "refused": data["refused"], "pillars": data["pillars"], "answer": data,
    }


def _stream(assistant, store, who: Principal, conversation: str, question: str, pillar, history) -> Iterator[str]:
    from app.answer import Answer

    yield _line({"delta": {"role": "assistant"}, "session_state": conversation})
    try:
        for item in assistant.stream(question, pillar, history=history):
            if isinstance(item, Answer):
                store.append(who.user_id, conversation, "assistant", item.text, item.to_dict())
                yield _line({"delta": {}, "message": {"role": "assistant", "content": item.text},
                             "context": _context(item), "session_state": conversation})
                return
            yield _line({"delta": {"content": item}})
    except Exception as exc:  # the status line is sent already: report the failure as the last chunk
        log.exception("streamed answer failed")
        yield _line({"error": f"the answer could not be produced: {exc}", "session_state": conversation})


def _line(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False) + "\n"


def _error_handlers(app: FastAPI) -> None:
    from app.assistant import UnknownPillar
    from app.llm.resilience import AllBackendsFailed
    from app.review.overrides import OverridesError
    from app.review.parse import DesignInputError
    from index.errors import IndexProblem

    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return error(exc.status, exc.message)

    @app.exception_handler(AuthError)
    async def auth_error(_, exc: AuthError):
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.message}"'} \
            if exc.status == 401 else None
        return error(exc.status, exc.message, headers)

    @app.exception_handler(RateLimited)
    async def rate_limited(_, exc: RateLimited):
        return error(429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ConversationNotFound)
    async def not_found(_, exc: ConversationNotFound):
        return error(404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return error(422, "; ".join(problems) or "malformed request")

    for kind, status in ((UnknownPillar, 400), (DesignInputError, 400), (OverridesError, 400),
                         (IndexProblem, 503), (AllBackendsFailed, 503)):
        app.add_exception_handler(kind, lambda _, exc, status=status: error(status, str(exc)))

    @app.exception_handler(ValueError)
    async def bad_value(_, exc: ValueError):  # an empty question, a bad history
        return error(400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_, exc: Exception):
        log.exception("unexpected error")
        return error(500, "internal error: the server log has the details")
