"""bindings watch objects in their cluster; templates declare their RBAC rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rbac_rules", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("watch", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        batch_op.drop_column("watch")
    with op.batch_alter_table("case_templates", schema=None) as batch_op:
        batch_op.drop_column("rbac_rules")
