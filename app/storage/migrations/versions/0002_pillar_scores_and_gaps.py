"""Per-pillar scores and the gap count beside each review, so milestone tables and charts need not parse reports;
filled in from the stored reports of an older database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("pillar_scores", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("gap_count", sa.Integer, nullable=False, server_default="0"))
    reviews = sa.table(
        "reviews", sa.column("id", sa.Integer), sa.column("report_json", sa.Text),
        sa.column("pillar_scores", sa.Text), sa.column("gap_count", sa.Integer),
    )
    connection = op.get_bind()
    for review_id, report_json in connection.execute(sa.select(reviews.c.id, reviews.c.report_json)).all():
        report = json.loads(report_json)
        gaps = sum(f.get("status") in ("missing", "partial") for f in report.get("findings", []))
        connection.execute(
            reviews.update().where(reviews.c.id == review_id).values(
                pillar_scores=json.dumps(report.get("scores", {}).get("pillars", {})), gap_count=gaps
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("gap_count")
        batch.drop_column("pillar_scores")
