"""lean run rows for fast ingestion: steps inline, no per-row foreign-key checks to clusters and cases

- A run's steps move into `runs.steps` (a JSON list, in order) and `run_steps` goes: steps are only
  ever read with their run, and three rows per run cost more to write than the run itself.
- `runs` and `resident_reports` lose their foreign keys to `clusters` and `cases`. PostgreSQL
  checked them row by row (a trigger and a row lock each), which was the largest part of batched
  ingestion's cost. The store keeps the same guarantees in code: writers of runs take a shared
  advisory lock (store.common.lock_run_parents), deleting a cluster or case takes it exclusively and
  deletes their runs and reports in the same transaction (store.common.delete_fact_rows).
- `runs.report_token_hash` is unique only where set (a partial index): ingested runs have none and
  no longer add an index entry each. On PostgreSQL `ix_runs_state_created_id` keeps only runs that
  did not succeed (its planner proves `state = 'failed'` implies `state <> 'succeeded'`; SQLite's
  does not, so SQLite keeps the full index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STEPS_PG = """
UPDATE runs SET steps = s.steps FROM (
    SELECT run_id, json_agg(json_build_object('name', name, 'ok', ok, 'duration_ms', duration_ms,
                                              'error', error) ORDER BY position) AS steps
    FROM run_steps GROUP BY run_id) s
WHERE runs.id = s.run_id
"""
STEPS_SQLITE = """
UPDATE runs SET steps = (
    SELECT json_group_array(json_object('name', name, 'ok', json(CASE WHEN ok THEN 'true' ELSE 'false' END),
                                        'duration_ms', duration_ms, 'error', error))
    FROM (SELECT * FROM run_steps WHERE run_steps.run_id = runs.id ORDER BY position))
WHERE id IN (SELECT run_id FROM run_steps)
"""
PARENTS = (("cluster_id", "clusters"), ("case_id", "cases"))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("runs", sa.Column("steps", sa.JSON(), nullable=False, server_default="[]"))
    op.execute(STEPS_SQLITE if sqlite else STEPS_PG)
    op.drop_table("run_steps")
    for table in ("runs", "resident_reports"):
        # SQLite cannot drop a constraint in place: batch mode copies the table without it
        with op.batch_alter_table(table, recreate="auto") as batch:
            for column, parent in PARENTS:
                batch.drop_constraint(f"fk_{table}_{column}_{parent}", type_="foreignkey")
            if table == "runs":
                batch.drop_constraint("uq_runs_report_token_hash", type_="unique")
    op.create_index(
        "uq_runs_report_token_hash",
        "runs",
        ["report_token_hash"],
        unique=True,
        postgresql_where=sa.text("report_token_hash IS NOT NULL"),
        sqlite_where=sa.text("report_token_hash IS NOT NULL"),
    )
    if not sqlite:
        op.drop_index("ix_runs_state_created_id", table_name="runs")
        op.create_index(
            "ix_runs_state_created_id",
            "runs",
            ["state", "created", "id"],
            postgresql_where=sa.text("state <> 'succeeded'"),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_index("ix_runs_state_created_id", table_name="runs")
        op.create_index("ix_runs_state_created_id", "runs", ["state", "created", "id"])
    op.drop_index("uq_runs_report_token_hash", table_name="runs")
    for table in ("runs", "resident_reports"):
        with op.batch_alter_table(table, recreate="auto") as batch:
            for column, parent in PARENTS:
                batch.create_foreign_key(
                    f"fk_{table}_{column}_{parent}", parent, [column], ["id"], ondelete="CASCADE"
                )
            if table == "runs":
                batch.create_unique_constraint("uq_runs_report_token_hash", ["report_token_hash"])
    op.create_table(
        "run_steps",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_steps_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_run_steps")),
    )
    op.drop_column("runs", "steps")
