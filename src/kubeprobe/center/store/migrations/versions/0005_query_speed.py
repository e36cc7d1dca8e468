"""indexes and tables for fast run lists, health and ingestion

Run lists page by (created, id) under a filter: the filtered indexes gain `id` so the order is read
off the index. Health reads a cluster's fresh runs by (cluster_id, finished). Rollups count
latencies in fixed buckets (exact to merge), and daily rollups sum the hourly ones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: As store.tables.BUCKET_COLUMNS at this revision (a migration must not change with the code).
BUCKETS = (
    "le_10_ms", "le_25_ms", "le_50_ms", "le_100_ms", "le_250_ms", "le_500_ms", "le_1000_ms",
    "le_2500_ms", "le_5000_ms", "le_10000_ms", "le_25000_ms", "le_60000_ms", "le_150000_ms",
    "le_300000_ms", "le_600000_ms", "le_inf_ms",
)  # fmt: skip
#: Columns of the run indexes that gain `id` at the end.
RUN_INDEXES = (("cluster_id", "created"), ("case_id", "created"), ("state", "created"))


def _bucket_columns() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in BUCKETS]


def upgrade() -> None:
    for cols in RUN_INDEXES:
        op.drop_index(f"ix_runs_{'_'.join(cols)}", table_name="runs")
        op.create_index(f"ix_runs_{'_'.join(cols)}_id", "runs", [*cols, "id"], unique=False)
    op.create_index("ix_runs_cluster_id_finished", "runs", ["cluster_id", "finished"], unique=False)
    for column in _bucket_columns():
        op.add_column("rollups", column)
    op.create_table(
        "daily_rollups",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("sum_ms", sa.Float(), nullable=False),
        sa.Column("max_ms", sa.Float(), nullable=False),
        *_bucket_columns(),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_daily_rollups_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_daily_rollups_cluster_id_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cluster_id", "day", "case_id", name=op.f("pk_daily_rollups")),
    )
    op.create_index("ix_daily_rollups_day", "daily_rollups", ["day"], unique=False)
    _backfill_days()


def _backfill_days() -> None:
    """Days of the hourly rollups kept so far (their buckets are empty: latency counts start now)."""
    if op.get_bind().dialect.name == "postgresql":
        day = "date_trunc('day', hour, 'UTC')"
    else:
        day = "strftime('%Y-%m-%d 00:00:00.000000', hour)"
    op.execute(
        "INSERT INTO daily_rollups (cluster_id, day, case_id, runs, failures, errors, sum_ms, max_ms)"
        f" SELECT cluster_id, {day}, case_id, sum(runs), sum(failures), sum(errors), sum(sum_ms),"
        f" max(max_ms) FROM rollups GROUP BY cluster_id, {day}, case_id"
    )


def downgrade() -> None:
    op.drop_index("ix_daily_rollups_day", table_name="daily_rollups")
    op.drop_table("daily_rollups")
    with op.batch_alter_table("rollups") as batch_op:
        for name in reversed(BUCKETS):
            batch_op.drop_column(name)
    op.drop_index("ix_runs_cluster_id_finished", table_name="runs")
    for cols in RUN_INDEXES:
        op.drop_index(f"ix_runs_{'_'.join(cols)}_id", table_name="runs")
        op.create_index(f"ix_runs_{'_'.join(cols)}", "runs", list(cols), unique=False)
