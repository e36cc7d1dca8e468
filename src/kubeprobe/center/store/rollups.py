"""Hourly rollups per case x cluster, and retention of raw runs and old rollups.

Safe with several replicas: the watermark row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite
has one writer anyway), and each hour is recomputed whole, so running twice gives the same rows.
The last LATE_HOURS hours before the watermark are recomputed too, for results that arrive late.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.tables import CenterState, Rollup, Run, table_of

WATERMARK = "rollup_watermark"
LATE_HOURS = 2
FAILURES = {"failed", "timed_out"}
ERRORS = {"error"}


def floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def read_watermark(session: AsyncSession, *, lock: bool = False) -> dt.datetime | None:
    query = select(CenterState).where(CenterState.key == WATERMARK)
    row = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    return dt.datetime.fromisoformat(row.value) if row else None


async def roll_up(session: AsyncSession, now: dt.datetime) -> int:
    """Roll up every complete hour since the watermark; returns how many hours were computed."""
    current = floor_hour(now)
    if await read_watermark(session) is None:
        session.add(CenterState(key=WATERMARK, value=current.isoformat()))
        await session.flush()
        first = (
            await session.execute(
                select(Run.finished).where(Run.finished.is_not(None)).order_by(Run.finished).limit(1)
            )
        ).scalar()
        start = floor_hour(first) if first else current
    else:
        mark = await read_watermark(session, lock=True)
        assert mark is not None
        start = mark - dt.timedelta(hours=LATE_HOURS)
    hours = 0
    hour = start
    while hour < current:
        await _roll_up_hour(session, hour)
        hour += dt.timedelta(hours=1)
        hours += 1
    state = await session.get_one(CenterState, WATERMARK)
    state.value = current.isoformat()
    return hours


async def _roll_up_hour(session: AsyncSession, hour: dt.datetime) -> None:
    end = hour + dt.timedelta(hours=1)
    await session.execute(delete(Rollup).where(Rollup.hour == hour))
    rows = await session.execute(
        select(Run.case_id, Run.cluster_id, Run.state, Run.duration_ms).where(
            Run.finished >= hour, Run.finished < end
        )
    )
    groups: dict[tuple[int, int], list[tuple[str, float]]] = defaultdict(list)
    for case_id, cluster_id, state, duration in rows:
        groups[(case_id, cluster_id)].append((state, duration or 0.0))
    values = []
    for (case_id, cluster_id), items in groups.items():
        durations = sorted(d for _, d in items)
        values.append(
            {
                "case_id": case_id,
                "cluster_id": cluster_id,
                "hour": hour,
                "runs": len(items),
                "failures": sum(1 for s, _ in items if s in FAILURES),
                "errors": sum(1 for s, _ in items if s in ERRORS),
                "sum_ms": sum(durations),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
                "p99_ms": percentile(durations, 99),
                "max_ms": durations[-1],
            }
        )
    for start in range(0, len(values), 500):
        await session.execute(table_of(Rollup).insert(), values[start : start + 500])


async def apply_retention(
    session: AsyncSession, now: dt.datetime, *, raw_days: float, rollup_days: float
) -> tuple[int, int]:
    """Delete raw runs past retention (never ones not yet rolled up) and rollups past theirs."""
    mark = await read_watermark(session)
    cutoff = now - dt.timedelta(days=raw_days)
    if mark is None:
        return 0, 0
    cutoff = min(cutoff, mark - dt.timedelta(hours=LATE_HOURS))
    runs = await session.execute(delete(Run).where(Run.created < cutoff, Run.finished.is_not(None)))
    rollups = await session.execute(delete(Rollup).where(Rollup.hour < now - dt.timedelta(days=rollup_days)))
    return runs.rowcount, rollups.rowcount  # type: ignore[attr-defined]
