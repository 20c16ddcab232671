"""Conversations saved per user in the project database: list, resume, append, delete. A user only ever reaches
their own: another user's conversation is "not found", never "forbidden", so ids reveal nothing."""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.storage.database import iso_utc
from app.storage.schema import conversations, messages

MAX_TITLE = 80



class ConversationNotFound(LookupError):
    def __init__(self, conversation_id: str):
        super().__init__(f"no conversation {conversation_id!r} for this user")


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    created: str
    updated: str
    messages: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    answer: dict | None
    created: str

    def to_dict(self) -> dict:
        return asdict(self)


class ConversationStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, user_id: str, first_question: str) -> str:
        conversation_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        title = " ".join(first_question.split())
        title = title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"
        with self.engine.begin() as db:
            db.execute(conversations.insert().values(id=conversation_id, user_id=user_id, title=title or "(untitled)",
                                                     created=now, updated=now))
        return conversation_id

    def append(self, user_id: str, conversation_id: str, role: str, content: str, answer: dict | None = None) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            owned = db.execute(
                conversations.update().where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
                .values(updated=now)
            ).rowcount
            if not owned:
                raise ConversationNotFound(conversation_id)
            db.execute(messages.insert().values(
                conversation_id=conversation_id, role=role, content=content,
                answer_json=json.dumps(answer, ensure_ascii=False) if answer is not None else None, created=now,
            ))

    def list(self, user_id: str) -> list[ConversationSummary]:
        count = sa.select(sa.func.count()).where(messages.c.conversation_id == conversations.c.id).scalar_subquery()
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(conversations.c.id, conversations.c.title, conversations.c.created, conversations.c.updated, count)
                .where(conversations.c.user_id == user_id).order_by(conversations.c.updated.desc(), conversations.c.id)
            ).all()
        return [ConversationSummary(i, t, iso_utc(c), iso_utc(u), n) for i, t, c, u, n in rows]

    def messages(self, user_id: str, conversation_id: str) -> list[Message]:
        with self.engine.connect() as db:
            self._check_owner(db, user_id, conversation_id)
            rows = db.execute(
                sa.select(messages.c.role, messages.c.content, messages.c.answer_json, messages.c.created)
                .where(messages.c.conversation_id == conversation_id).order_by(messages.c.id)
            ).all()
        return [Message(r, c, json.loads(a) if a else None, iso_utc(t)) for r, c, a, t in rows]

    def delete(self, user_id: str, conversation_id: str) -> None:
        with self.engine.begin() as db:
            self._check_owner(db, user_id, conversation_id)
            db.execute(messages.delete().where(messages.c.conversation_id == conversation_id))
            db.execute(conversations.delete().where(conversations.c.id == conversation_id))

    @staticmethod
    def _check_owner(db, user_id: str, conversation_id: str) -> None:
        found = db.execute(
            sa.select(conversations.c.id).where(conversations.c.id == conversation_id, conversations.c.user_id == user_id)
        ).first()
        if found is None:
            raise ConversationNotFound(conversation_id)
