"""run analysis: diagnosed cause, confidence, evidence and verification per finished run; RCA feedback

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_analysis",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=4), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_analysis_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_analysis")),
    )
    with op.batch_alter_table("run_analysis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_run_analysis_state_claimed_at"), ["state", "claimed_at"], unique=False
        )
    op.create_table(
        "rca_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("failure", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_rca_feedback_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rca_feedback")),
    )
    with op.batch_alter_table("rca_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rca_feedback_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rca_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rca_feedback_run_id"))
    op.drop_table("rca_feedback")
    with op.batch_alter_table("run_analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_analysis_state_claimed_at"))
    op.drop_table("run_analysis")
