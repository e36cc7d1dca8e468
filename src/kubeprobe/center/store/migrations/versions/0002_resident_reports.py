"""resident reports: the resident operator's state changes and summaries, by idempotency key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resident_reports",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("config", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_resident_reports_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_resident_reports_cluster_id_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_resident_reports")),
    )
    with op.batch_alter_table("resident_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_reports_cluster_id_case_id_at"),
            ["cluster_id", "case_id", "at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("resident_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_reports_cluster_id_case_id_at"))
    op.drop_table("resident_reports")
