"""A cluster's health per case: last state, success ratio and latency over a window of hours.

The window [since, now) is read in three parts, none overlapping: whole UTC days that are final
(rollups.final_days_end) from daily rollups, the hours around them from hourly rollups, and runs
finished after the watermark from the raw runs. A 30-day view thus reads about cases x (30 + 50)
rollup rows and the last hour's runs, whatever the fleet's history holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.schemas.runs import CaseHealth, ClusterHealth
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.rollups import (
    DAY,
    bucket_of,
    bucket_percentile,
    final_days_end,
    floor_day,
    floor_hour,
    read_watermark,
)
from kubeprobe.center.store.tables import (
    BUCKET_COLUMNS,
    Case,
    CaseStatus,
    Cluster,
    DailyRollup,
    Rollup,
    Run,
    table_of,
)
from kubeprobe.model.runs import ERROR_STATES, FAILURE_STATES

#: runs, failures, errors, sum_ms, max_ms, then the bucket counts
_WIDTH = 5 + len(BUCKET_COLUMNS)


def _sums(table: Table) -> list[Any]:
    c = table.c
    return [
        func.sum(c.runs),
        func.sum(c.failures),
        func.sum(c.errors),
        func.sum(c.sum_ms),
        func.max(c.max_ms),
        *(func.sum(c[name]) for name in BUCKET_COLUMNS),
    ]


def _merge(entry: list[float], row: Sequence[Any]) -> None:
    for i, value in enumerate(row):
        if value is None:
            continue
        entry[i] = max(entry[i], float(value)) if i == 4 else entry[i] + float(value)


def _rolled(table: Table, where: ColumnElement[bool]) -> Select[Any]:
    return select(table.c.case_id, *_sums(table)).where(where).group_by(table.c.case_id)


async def _add_raw_runs(
    session: AsyncSession, agg: dict[int, list[float]], cluster_id: int, raw_from: dt.datetime
) -> None:
    """Add the runs not rolled up yet (finished since ``raw_from``) to the per-case aggregates."""
    fresh = await session.execute(
        select(Run.case_id, Run.state, Run.duration_ms).where(
            Run.cluster_id == cluster_id, Run.finished >= raw_from
        )
    )
    for case_id, state, duration in fresh:
        entry = agg.setdefault(case_id, [0.0] * _WIDTH)
        ms = duration or 0.0
        entry[0] += 1
        entry[1] += state in FAILURE_STATES
        entry[2] += state in ERROR_STATES
        entry[3] += ms
        entry[4] = max(entry[4], ms)
        entry[5 + bucket_of(ms)] += 1


async def cluster_health(session: AsyncSession, name: str, window_hours: int) -> ClusterHealth:
    if not 1 <= window_hours <= 24 * 400:
        raise InvalidInputError(
            f"window_hours: {window_hours} is out of range; allowed: 1 to 9600", field="window_hours"
        )
    found = (
        await session.execute(select(Cluster.id, Cluster.name, Cluster.state).where(Cluster.name == name))
    ).first()
    if found is None:
        raise NotFoundError(f"no cluster named {name!r}")
    cluster = found
    now = utcnow()
    since = floor_hour(now) - dt.timedelta(hours=window_hours)
    mark = await read_watermark(session)
    raw_from = max(since, mark) if mark else since
    agg: dict[int, list[float]] = {}
    # final whole days inside [since, raw_from) from daily rollups, the hours around from hourly ones
    first_day = floor_day(since) if floor_day(since) == since else floor_day(since) + DAY
    end_day = max(final_days_end(mark), since) if mark else since
    hourly, daily = table_of(Rollup), table_of(DailyRollup)
    in_cluster = hourly.c.cluster_id == cluster.id
    parts: list[Select[Any]] = []
    if first_day < end_day:
        in_days = (daily.c.cluster_id == cluster.id) & (daily.c.day >= first_day) & (daily.c.day < end_day)
        parts.append(_rolled(daily, in_days))
        edges = [(since, first_day), (end_day, raw_from)]
    else:
        edges = [(since, raw_from)]
    parts += [
        _rolled(hourly, in_cluster & (hourly.c.hour >= start) & (hourly.c.hour < end))
        for start, end in edges
        if start < end
    ]
    if parts:  # one round trip for days and hours
        for case_id, *values in await session.execute(union_all(*parts) if len(parts) > 1 else parts[0]):
            _merge(agg.setdefault(case_id, [0.0] * _WIDTH), values)
    await _add_raw_runs(session, agg, cluster.id, raw_from)
    status = {
        row.case_id: row
        for row in await session.execute(
            select(CaseStatus.case_id, Case.name, CaseStatus.state, CaseStatus.run_id, CaseStatus.finished)
            .join(Case, Case.id == CaseStatus.case_id)
            .where(CaseStatus.cluster_id == cluster.id)
        )
    }
    names = {case_id: row.name for case_id, row in status.items()}
    if unnamed := set(agg) - set(names):  # history without a latest status: rare
        names |= dict((await session.execute(select(Case.id, Case.name).where(Case.id.in_(unnamed)))).all())
    ids = set(agg) | set(status)
    cases = []
    for case_id in sorted(ids, key=lambda i: names.get(i, "")):
        runs, fails, errs, sum_ms, max_ms, *buckets = agg.get(case_id, [0.0] * _WIDTH)
        decided = runs - errs
        last = status.get(case_id)
        cases.append(
            CaseHealth(
                case=names.get(case_id, str(case_id)),
                last_state=last.state if last else None,
                last_run=last.run_id if last else None,
                last_finished=last.finished if last else None,
                runs=int(runs),
                failures=int(fails),
                errors=int(errs),
                success_ratio=(decided - fails) / decided if decided else None,
                latency_avg_ms=sum_ms / runs if runs else None,
                latency_p95_ms=bucket_percentile(buckets, 95, max_ms) if runs else None,
                latency_max_ms=max_ms if runs else None,
            )
        )
    return ClusterHealth(cluster=cluster.name, state=cluster.state, window_hours=window_hours, cases=cases)
