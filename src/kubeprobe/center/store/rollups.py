"""Hourly and daily rollups per case x cluster, and retention of raw runs and old rollups.

Safe with several replicas: the watermark row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite
has one writer anyway), and each hour and day is recomputed whole, so running twice gives the same
rows. The last LATE_HOURS hours before the watermark are recomputed too, for results that arrive
late. A day is summed into its daily rollup once, when it is final (LATE_HOURS after it ends, no
hour of it is recomputed any more); until then health reads its hours. Both are
computed inside the database (INSERT ... SELECT), not row by row in the center. Latencies are
counted in fixed buckets (tables.LATENCY_BUCKETS_MS): a day is the exact sum of its hours, and
percentiles of any window come from summed buckets."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.common import db_time
from kubeprobe.center.store.tables import (
    BUCKET_COLUMNS,
    LATENCY_BUCKETS_MS,
    CenterState,
    DailyRollup,
    Rollup,
    Run,
    table_of,
)
from kubeprobe.model.runs import ERROR_STATES, FAILURE_STATES

WATERMARK = "rollup_watermark"
LATE_HOURS = 2
LATE = dt.timedelta(hours=LATE_HOURS)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def floor_day(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def final_days_end(mark: dt.datetime) -> dt.datetime:
    """Days before this one are final under watermark `mark`: no hour of theirs is recomputed any
    more, so their daily rollup is summed once and health may read it."""
    return floor_day(mark - LATE)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def bucket_of(duration_ms: float) -> int:
    """Index of the latency bucket that counts a duration (upper bounds are inclusive)."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, duration_ms)


def bucket_percentile(counts: Sequence[float], q: float, max_ms: float | None = None) -> float | None:
    """Nearest-rank percentile from bucket counts: the upper bound of the bucket holding that rank,
    at most `max_ms` (the overflow bucket answers `max_ms`). None when nothing was counted."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1.0, math.ceil(q / 100 * total))
    seen = 0.0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            bound = LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else math.inf
            return min(bound, max_ms) if max_ms is not None else (None if math.isinf(bound) else bound)
    return max_ms


async def read_watermark(session: AsyncSession, *, lock: bool = False) -> dt.datetime | None:
    query = select(CenterState).where(CenterState.key == WATERMARK)
    row = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    return dt.datetime.fromisoformat(row.value) if row else None


async def roll_up(session: AsyncSession, now: dt.datetime) -> int:
    """Roll up every complete hour since the watermark, then their days; returns how many hours."""
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
        final_from = floor_day(start)
    else:
        mark = await read_watermark(session, lock=True)
        assert mark is not None
        start = mark - LATE
        final_from = final_days_end(mark)
    hours = 0
    hour = start
    while hour < current:
        await _roll_up_hour(session, hour)
        hour += HOUR
        hours += 1
    day = final_from
    while day < final_days_end(current):  # days that became final with this watermark
        await _roll_up_day(session, day)
        day += DAY
    state = await session.get_one(CenterState, WATERMARK)
    state.value = current.isoformat()
    return hours


def _hour_sql(dialect: str) -> str:
    """One hour of runs rolled up inside the database: counts, sums, exact nearest-rank p50/p95/p99
    (by row number; ceil(q * n / 100) as integer arithmetic) and the latency bucket counts."""
    bounds = [f"d <= {LATENCY_BUCKETS_MS[0]:g}"]
    bounds += [f"d > {lo:g} AND d <= {hi:g}" for lo, hi in itertools.pairwise(LATENCY_BUCKETS_MS)]
    bounds += [f"d > {LATENCY_BUCKETS_MS[-1]:g}"]
    buckets = ", ".join(f"SUM(CASE WHEN {b} THEN 1 ELSE 0 END)" for b in bounds)
    ranks = ", ".join(f"MAX(CASE WHEN rn = ({q} * n + 99) / 100 THEN d END)" for q in (50, 95, 99))
    states = {
        name: ", ".join(f"'{s}'" for s in sorted(group))
        for name, group in (("f", FAILURE_STATES), ("e", ERROR_STATES))
    }
    hour = "CAST(:hour AS TIMESTAMP WITH TIME ZONE)" if dialect == "postgresql" else ":hour"
    return (
        "INSERT INTO rollups (case_id, cluster_id, hour, runs, failures, errors, sum_ms, p50_ms, p95_ms,"
        f" p99_ms, max_ms, {', '.join(BUCKET_COLUMNS)})"
        f" SELECT case_id, cluster_id, {hour}, COUNT(*),"
        f" SUM(CASE WHEN state IN ({states['f']}) THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN state IN ({states['e']}) THEN 1 ELSE 0 END), SUM(d), {ranks}, MAX(d), {buckets}"
        " FROM (SELECT case_id, cluster_id, state, COALESCE(duration_ms, 0) AS d,"
        " ROW_NUMBER() OVER (PARTITION BY case_id, cluster_id ORDER BY COALESCE(duration_ms, 0)) AS rn,"
        " COUNT(*) OVER (PARTITION BY case_id, cluster_id) AS n"
        " FROM runs WHERE finished >= :start AND finished < :end) r"
        " GROUP BY case_id, cluster_id"
    )


async def _roll_up_hour(session: AsyncSession, hour: dt.datetime) -> None:
    await session.execute(delete(Rollup).where(Rollup.hour == hour))
    dialect = session.get_bind().dialect.name
    when = db_time(dialect)
    params = {"hour": when(hour), "start": when(hour), "end": when(hour + HOUR)}
    await session.execute(text(_hour_sql(dialect)), params)


async def _roll_up_day(session: AsyncSession, day: dt.datetime) -> None:
    """A day's rows: the sums of its hourly rollups, computed inside the database."""
    await session.execute(delete(DailyRollup).where(DailyRollup.day == day))
    hourly = table_of(Rollup)
    summed = [func.sum(hourly.c[name]) for name in ("runs", "failures", "errors", "sum_ms")]
    buckets = [func.sum(hourly.c[name]) for name in BUCKET_COLUMNS]
    source = (
        select(
            hourly.c.cluster_id,
            literal(day, DailyRollup.day.type),
            hourly.c.case_id,
            *summed,
            func.max(hourly.c.max_ms),
            *buckets,
        )
        .where(hourly.c.hour >= day, hourly.c.hour < day + DAY)
        .group_by(hourly.c.cluster_id, hourly.c.case_id)
    )
    columns = ["cluster_id", "day", "case_id", "runs", "failures", "errors", "sum_ms", "max_ms"]
    await session.execute(insert(table_of(DailyRollup)).from_select([*columns, *BUCKET_COLUMNS], source))


async def apply_retention(
    session: AsyncSession, now: dt.datetime, *, raw_days: float, rollup_days: float
) -> tuple[int, int]:
    """Delete raw runs past retention (never ones not yet rolled up) and rollups past theirs
    (hourly, and days that ended before the cutoff); returns (runs, hourly + daily rows) deleted."""
    mark = await read_watermark(session)
    cutoff = now - dt.timedelta(days=raw_days)
    if mark is None:
        return 0, 0
    cutoff = min(cutoff, mark - dt.timedelta(hours=LATE_HOURS))
    runs = await session.execute(delete(Run).where(Run.created < cutoff, Run.finished.is_not(None)))
    rollup_cutoff = now - dt.timedelta(days=rollup_days)
    hourly = await session.execute(delete(Rollup).where(Rollup.hour < rollup_cutoff))
    daily = await session.execute(delete(DailyRollup).where(DailyRollup.day <= rollup_cutoff - DAY))
    deleted: int = hourly.rowcount + daily.rowcount  # type: ignore[attr-defined]
    return runs.rowcount, deleted  # type: ignore[attr-defined]
