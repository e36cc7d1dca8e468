"""security hardening: one report per run, object errors shown on the object

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
