"""Thumbs up/down with an optional comment per answer, kept in the project database and exportable as CSV.
Feedback files of earlier versions (`WAF_FEEDBACK_DB`, SQLite) are imported once and left as they were."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from app.storage.database import iso_utc, open_database
from app.storage.legacy import import_legacy_sqlite
from app.storage.schema import feedback

COLUMNS = ["id", "created", "user_id", "rating", "comment", "question", "answer", "citations", "backend"]

_LEGACY_QUERY = "SELECT created, rating, comment, question, answer, citations, backend FROM feedback ORDER BY id"


def _from_legacy(row: tuple) -> dict:
    created, rating, comment, question, answer, citations, backend = row
    return {"created": datetime.fromisoformat(created), "user_id": "local", "rating": rating, "comment": comment,
            "question": question, "answer": answer, "citations": citations, "backend": backend}


class FeedbackStore:
    def __init__(self, url: str, legacy_file: Path | None = None):
        self.engine = open_database(url)
        import_legacy_sqlite(self.engine, legacy_file, "feedback", feedback, _LEGACY_QUERY, _from_legacy)

    @classmethod
    def from_settings(cls, settings) -> FeedbackStore:
        return cls(settings.database, settings.feedback_db)

    def add(self, rating: int, question: str, answer: str, citations: list[str], backend: str, comment: str = "",
            user_id: str = "local") -> int:
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 (thumbs up) or -1 (thumbs down)")
        with self.engine.begin() as db:
            result = db.execute(feedback.insert().values(
                created=datetime.now(UTC), user_id=user_id, rating=rating, comment=comment.strip(), question=question,
                answer=answer, citations=json.dumps(citations), backend=backend,
            ))
            return int(result.inserted_primary_key[0])

    def rows(self) -> list[dict]:
        with self.engine.connect() as db:
            found = db.execute(sa.select(*(feedback.c[c] for c in COLUMNS)).order_by(feedback.c.id)).all()
        return [{**dict(zip(COLUMNS, row)), "created": iso_utc(row[1])} for row in found]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows())
        return buffer.getvalue()
