"""The latest finished run per case x cluster, upserted on every report and ingested batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.tables import CaseStatus, table_of

StatusRow = tuple[int, int, str, str, dt.datetime, float | None]


async def update_status(session: AsyncSession, rows: Iterable[StatusRow]) -> None:
    """Upsert, keeping for each pair whichever run finished last (older results never win)."""
    latest: dict[tuple[int, int], StatusRow] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in latest or latest[key][4] < row[4]:
            latest[key] = row
    if not latest:
        return
    values = [
        {"cluster_id": c, "case_id": k, "run_id": r, "state": s, "finished": f, "duration_ms": d}
        for c, k, r, s, f, d in (latest[key] for key in sorted(latest))  # one lock order: no deadlocks
    ]
    table = table_of(CaseStatus)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.cluster_id, table.c.case_id],
        set_={c: stmt.excluded[c] for c in ("run_id", "state", "finished", "duration_ms")},
        where=table.c.finished < stmt.excluded.finished,
    )
    await session.execute(stmt, values)
