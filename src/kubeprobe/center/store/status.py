"""The latest finished run per case x cluster, upserted on every report and ingested batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.common import db_time, insert_many
from kubeprobe.center.store.tables import CaseStatus, table_of

StatusRow = tuple[int, int, str, str, dt.datetime, float | None]
COLUMNS = ("cluster_id", "case_id", "run_id", "state", "finished", "duration_ms")
#: the same in SQLite and PostgreSQL: a pair's row changes only for a run that finished later
UPSERT = (
    " ON CONFLICT (cluster_id, case_id) DO UPDATE SET run_id = excluded.run_id, state = excluded.state,"
    " finished = excluded.finished, duration_ms = excluded.duration_ms"
    " WHERE case_status.finished < excluded.finished"
)


async def update_status(session: AsyncSession, rows: Iterable[StatusRow]) -> None:
    """Upsert, keeping for each pair whichever run finished last (older results never win)."""
    latest: dict[tuple[int, int], StatusRow] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in latest or latest[key][4] < row[4]:
            latest[key] = row
    when = db_time(session.get_bind().dialect.name)
    values = [
        (c, k, r, s, when(f), d)
        for c, k, r, s, f, d in (latest[key] for key in sorted(latest))  # one lock order: no deadlocks
    ]
    await insert_many(session, table_of(CaseStatus), COLUMNS, values, UPSERT)
