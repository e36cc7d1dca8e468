"""security hardening: object errors shown on the object

A stored binding, silence or route that the center cannot use (a cron that no longer validates, a
matcher RE2 refuses) is skipped so that the others keep working; ``error`` says why on the object
itself, set when it is skipped and cleared when it works again or is replaced. A receiver's
``error`` is its last delivery's failure, cleared by the next delivery that goes through.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("bindings", "silences", "alert_routes", "alert_receivers")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("error")
