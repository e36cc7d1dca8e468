"""The migration path from an empty database, and that migrations match the tables."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.engine import current_revision, head_revision
from kubeprobe.center.store.tables import Base


async def test_empty_database_migrates_to_head_and_matches_tables(db_url: str) -> None:
    store = Store.connect(db_url)
    try:
        assert await current_revision(store.engine) is None
        assert await store.ready() is not None  # not migrated: not ready
        await store.migrate()
        assert await current_revision(store.engine) == head_revision()
        await store.migrate()  # again: nothing to do, no error

        def diff(conn: Connection) -> list[Any]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))

        async with store.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {
            "clusters",
            "runs",
            "run_findings",
            "rollups",
            "audit_log",
            "api_tokens",
        } <= tables
        assert await store.ready() is None
    finally:
        await store.close()
