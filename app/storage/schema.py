"""The project database's tables as the code uses them (SQLAlchemy Core). The migrations in
app/storage/migrations create and change them; tests/test_storage.py checks that both agree."""
from __future__ import annotations

import sqlalchemy as sa

WORKLOAD_NAME_LENGTH = 100
MILESTONE_LENGTH = 200

metadata = sa.MetaData()

workloads = sa.Table(
    "workloads", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(WORKLOAD_NAME_LENGTH), nullable=False, unique=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

reviews = sa.Table(
    "reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workload_id", sa.Integer, sa.ForeignKey("workloads.id"), nullable=False),
    sa.Column("milestone", sa.String(MILESTONE_LENGTH), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("document_name", sa.String(500), nullable=False),
    sa.Column("document_sha256", sa.String(64), nullable=False),
    sa.Column("assessor", sa.String(200), nullable=False),
    sa.Column("overall_score", sa.Integer, nullable=True),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("pillar_scores", sa.Text, nullable=False),
    sa.Column("gap_count", sa.Integer, nullable=False),
    sa.UniqueConstraint("workload_id", "milestone", name="uq_reviews_workload_milestone"),
)

conversations = sa.Table(
    "conversations", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(200), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("answer_json", sa.Text, nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False),
    sa.Column("backend", sa.String(100), nullable=False),
)

llm_usage = sa.Table(
    "llm_usage", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("day", sa.String(10), nullable=False, index=True),
    sa.Column("backend", sa.String(100), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("purpose", sa.String(100), nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=True),
    sa.Column("ok", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("retries", sa.Integer, nullable=False),
)

legacy_imports = sa.Table(
    "legacy_imports", metadata,
    sa.Column("source", sa.String(1000), primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("imported", sa.DateTime(timezone=True), nullable=False),
)
