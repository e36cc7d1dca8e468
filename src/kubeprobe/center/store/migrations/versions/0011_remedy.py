"""remediation: the defender's shared state (compare-and-set), its append-only audit, remediations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remedy_defender_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remedy_defender_state")),
    )
    op.create_table(
        "remedy_audit",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=253), nullable=False),
        sa.Column("cluster", sa.String(length=253), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_remedy_audit")),
    )
    with op.batch_alter_table("remedy_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_remedy_audit_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_remedy_audit_cluster_seq"), ["cluster", "seq"], unique=False)
    op.create_table(
        "remedy_remediations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cluster", sa.String(length=253), nullable=False),
        sa.Column("action", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("proposed_by", sa.String(length=253), nullable=False),
        sa.Column("approver", sa.String(length=253), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remedy_remediations")),
    )
    with op.batch_alter_table("remedy_remediations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_remedy_remediations_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remedy_remediations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remedy_remediations_state"))
    op.drop_table("remedy_remediations")
    with op.batch_alter_table("remedy_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remedy_audit_cluster_seq"))
        batch_op.drop_index(batch_op.f("ix_remedy_audit_request_id"))
    op.drop_table("remedy_audit")
    op.drop_table("remedy_defender_state")
