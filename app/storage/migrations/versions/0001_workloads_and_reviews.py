"""Workloads and their saved reviews (one per milestone).

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workloads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("workload_id", sa.Integer, sa.ForeignKey("workloads.id"), nullable=False),
        sa.Column("milestone", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("document_name", sa.String(500), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("assessor", sa.String(200), nullable=False),
        sa.Column("overall_score", sa.Integer, nullable=True),
        sa.Column("report_json", sa.Text, nullable=False),
        sa.UniqueConstraint("workload_id", "milestone", name="uq_reviews_workload_milestone"),
    )


def downgrade() -> None:
    op.drop_table("reviews")
    op.drop_table("workloads")
