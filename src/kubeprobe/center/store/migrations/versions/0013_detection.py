"""remediation: a remediation knows the incident and the policy (and its ladder step) it came from

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("remedy_remediations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("policy", sa.String(length=253), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("policy_version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_remedy_remediations_incident_id"), ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remedy_remediations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remedy_remediations_incident_id"))
        batch_op.drop_column("step")
        batch_op.drop_column("policy_version")
        batch_op.drop_column("policy")
        batch_op.drop_column("incident_id")
