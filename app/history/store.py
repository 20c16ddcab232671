"""Saved reviews per workload and milestone, in the project database (SQLAlchemy Core; app/storage opens it and
migrates its schema). Saves are single transactions that write first, so concurrent savers queue on the
database's lock instead of losing a review.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.history.errors import HistoryError
from app.review.report import ReviewReport
from app.storage.database import DatabaseError, first_line, iso_utc, open_database, schema_revision
from app.storage.schema import MILESTONE_LENGTH, WORKLOAD_NAME_LENGTH, reviews, workloads

__all__ = ["HistoryError", "HistoryStore", "Milestone", "WorkloadSummary", "check_name"]

MAX_NAME = WORKLOAD_NAME_LENGTH
MAX_MILESTONE = MILESTONE_LENGTH



@dataclass(frozen=True)
class Milestone:
    """One saved review, without its report."""

    workload: str
    milestone: str
    created: str
    author: str
    document_name: str
    document_sha256: str
    assessor: str
    overall: int | None
    pillars: dict[str, int | None]
    gaps: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WorkloadSummary:
    name: str
    milestones: int
    latest_milestone: str
    latest_score: int | None
    updated: str

    def to_dict(self) -> dict:
        return asdict(self)


class HistoryStore:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine: Engine = open_database(url)
        except DatabaseError as exc:
            raise HistoryError(str(exc)) from exc

    @classmethod
    def from_settings(cls, settings) -> HistoryStore:
        return cls(settings.database)

    def save(self, workload: str, milestone: str, report: ReviewReport, document_sha256: str, author: str) -> Milestone:
        """Save the review as this workload's milestone. A label already used by the workload is refused, never
        overwritten."""
        workload, milestone = check_name(workload, "workload", MAX_NAME), check_name(milestone, "milestone", MAX_MILESTONE)
        now = datetime.now(UTC)
        gap_count = sum(f.status in ("missing", "partial") for f in report.findings)
        try:
            with self.engine.begin() as db:
                # Write first: the transaction takes the write lock at once, so concurrent savers queue.
                db.execute(_insert_ignore(self.engine, workloads, {"name": workload, "created": now}))
                workload_id = db.execute(sa.select(workloads.c.id).where(workloads.c.name == workload)).scalar_one()
                db.execute(reviews.insert().values(
                    workload_id=workload_id, milestone=milestone, created=now, author=author or "unknown",
                    document_name=report.document.name, document_sha256=document_sha256, assessor=report.assessor,
                    overall_score=report.scores.overall, report_json=report.to_json(),
                    pillar_scores=json.dumps(report.scores.pillars), gap_count=gap_count,
                ))
        except IntegrityError as exc:
            existing = self.milestone(workload, milestone)
            raise HistoryError(
                f"workload '{workload}' already has a milestone '{milestone}' (saved {existing.created} by "
                f"{existing.author}); choose another label"
            ) from exc
        except OperationalError as exc:
            raise HistoryError(f"the review was not saved: {first_line(exc)}") from exc
        return self.milestone(workload, milestone)

    def workloads(self) -> list[WorkloadSummary]:
        with self.engine.connect() as db:
            rows = db.execute(
                sa.select(workloads.c.name, reviews.c.milestone, reviews.c.overall_score, reviews.c.created)
                .join(reviews, reviews.c.workload_id == workloads.c.id)
                .order_by(workloads.c.name, reviews.c.created, reviews.c.id)
            ).all()
        summaries: dict[str, WorkloadSummary] = {}
        for name, milestone, overall, created in rows:
            count = summaries[name].milestones + 1 if name in summaries else 1
            summaries[name] = WorkloadSummary(name, count, milestone, overall, iso_utc(created))
        return list(summaries.values())

    def milestones(self, workload: str) -> list[Milestone]:
        """The workload's saved reviews, oldest first; HistoryError naming the saved workloads when it has none."""
        with self.engine.connect() as db:
            rows = db.execute(_milestone_query().where(workloads.c.name == workload).order_by(reviews.c.created, reviews.c.id)).all()
        if not rows:
            names = [w.name for w in self.workloads()]
            raise HistoryError(
                f"no saved reviews for workload '{workload}'; "
                + (f"saved workloads: {', '.join(names)}" if names else "nothing has been saved yet "
                   "(review a design with --workload NAME --milestone LABEL)")
            )
        return [_milestone(row) for row in rows]

    def milestone(self, workload: str, label: str) -> Milestone:
        """One saved review: by label, or `latest`, or `previous` (the one before the latest)."""
        saved = self.milestones(workload)
        if label == "latest":
            return saved[-1]
        if label == "previous":
            if len(saved) < 2:
                raise HistoryError(f"workload '{workload}' has only one milestone ('{saved[0].milestone}'): no previous one")
            return saved[-2]
        for m in saved:
            if m.milestone == label:
                return m
        raise HistoryError(
            f"workload '{workload}' has no milestone '{label}'; its milestones: {', '.join(m.milestone for m in saved)}"
        )

    def report(self, workload: str, label: str) -> ReviewReport:
        found = self.milestone(workload, label)
        with self.engine.connect() as db:
            text = db.execute(
                sa.select(reviews.c.report_json).join(workloads, reviews.c.workload_id == workloads.c.id)
                .where(workloads.c.name == workload, reviews.c.milestone == found.milestone)
            ).scalar_one()
        return ReviewReport.model_validate_json(text)

    def schema_revision(self) -> str | None:
        return schema_revision(self.engine)


def check_name(value: str, what: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise HistoryError(f"the {what} name is empty")
    if len(value) > limit:
        raise HistoryError(f"the {what} name is {len(value)} characters; the limit is {limit}")
    if what == "milestone" and value in ("latest", "previous"):
        raise HistoryError(f"'{value}' is reserved (it refers to a saved milestone); choose another label")
    return value


def _insert_ignore(engine: Engine, table: sa.Table, values: dict):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**values).on_conflict_do_nothing(index_elements=["name"])


def _milestone_query():
    return sa.select(
        workloads.c.name, reviews.c.milestone, reviews.c.created, reviews.c.author, reviews.c.document_name,
        reviews.c.document_sha256, reviews.c.assessor, reviews.c.overall_score, reviews.c.pillar_scores,
        reviews.c.gap_count,
    ).join(reviews, reviews.c.workload_id == workloads.c.id)


def _milestone(row) -> Milestone:
    name, milestone, created, author, document, sha, assessor, overall, pillars, gaps = row
    return Milestone(name, milestone, iso_utc(created), author, document, sha, assessor, overall, json.loads(pillars), gaps)
