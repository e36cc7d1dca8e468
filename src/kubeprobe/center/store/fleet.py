"""Read models for the dashboard: the fleet matrix, a cluster's hourly history and open findings
(gate history: store/gates.py).

The fleet matrix is built from `case_status` (one row per cluster x case) with three plain selects, so
1,000 clusters x 50 cases cost one index scan and a tight loop, not 50,000 ORM objects.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.store.common import aware, by_name, utcnow
from kubeprobe.center.store.rollups import floor_hour, read_watermark
from kubeprobe.center.store.tables import (
    Binding,
    Case,
    CaseStatus,
    Cluster,
    ClusterGroup,
    Rollup,
    Run,
    RunFinding,
    SuiteCase,
)
from kubeprobe.model import RunState
from kubeprobe.model.runs import ERROR_STATES, FAILURE_STATES

# One character per run state in the fleet matrix; "." is a cell without a finished run.
STATE_CODES = {
    "succeeded": "s",
    "failed": "f",
    "timed_out": "t",
    "error": "e",
    "cancelled": "c",
}
NO_RUN = "."


@dataclass(frozen=True)
class FleetMatrix:
    clusters: list[dict[str, Any]]  # name, labels, state
    cases: list[str]
    groups: list[dict[str, Any]]  # name, selector
    states: str  # len(clusters) * len(cases) codes, row-major by cluster


async def fleet_matrix(session: AsyncSession) -> FleetMatrix:
    """Every cluster x every case that has a status or a binding, coloured by its latest finished run."""
    cluster_rows = (
        await session.execute(
            select(Cluster.id, Cluster.name, Cluster.labels, Cluster.state).order_by(Cluster.name)
        )
    ).all()
    bound = union(
        select(CaseStatus.case_id.label("case_id")),
        select(Binding.case_id.label("case_id")).where(Binding.case_id.is_not(None)),
        select(SuiteCase.case_id.label("case_id"))
        .join(Binding, Binding.suite_id == SuiteCase.suite_id)
        .where(Binding.suite_id.is_not(None)),
    ).subquery()
    case_rows = (
        await session.execute(
            select(Case.id, Case.name).where(Case.id.in_(select(bound.c.case_id))).order_by(Case.name)
        )
    ).all()
    col = {case_id: i for i, (case_id, _) in enumerate(case_rows)}
    row = {cluster_id: i for i, (cluster_id, *_) in enumerate(cluster_rows)}
    width = len(case_rows)
    cells = bytearray(NO_RUN.encode() * (len(cluster_rows) * width))
    # One row per cluster: "<case id><state's first letter>,..." built by the database (group_concat /
    # string_agg), so 50,000 cells cross the driver as 1,000 strings. The first letters of the
    # terminal states are their codes (STATE_CODES).
    cell = cast(CaseStatus.case_id, String).concat(func.substr(CaseStatus.state, 1, 1))
    packed = await session.execute(
        select(CaseStatus.cluster_id, func.aggregate_strings(cell, ",")).group_by(CaseStatus.cluster_id)
    )
    col_of = col.get
    for cluster_id, joined in packed:
        r = row.get(cluster_id)
        if r is None or not joined:
            continue
        base = r * width
        for item in joined.split(","):
            c = col_of(int(item[:-1]))
            if c is not None:
                cells[base + c] = ord(item[-1])
    groups = (
        await session.execute(select(ClusterGroup.name, ClusterGroup.selector).order_by(ClusterGroup.name))
    ).all()
    return FleetMatrix(
        clusters=[{"name": n, "labels": labels or {}, "state": st} for _, n, labels, st in cluster_rows],
        cases=[name for _, name in case_rows],
        groups=[{"name": n, "selector": sel or {}} for n, sel in groups],
        states=cells.decode(),
    )


@dataclass(frozen=True)
class HourPoint:
    hour: dt.datetime
    runs: int
    failures: int
    errors: int
    avg_ms: float | None
    p95_ms: float | None


async def cluster_history(
    session: AsyncSession, name: str, hours: int, case: str | None = None
) -> list[HourPoint]:
    """Runs per hour of a cluster (optionally one case): rolled-up hours, then raw runs past the watermark."""
    if not 1 <= hours <= 24 * 400:
        raise InvalidInputError(f"hours: {hours} is out of range; allowed: 1 to 9600", field="hours")
    cluster = await by_name(session, Cluster, name, "cluster")
    case_id = (await by_name(session, Case, case, "case", field="case")).id if case else None
    now = utcnow()
    since = floor_hour(now) - dt.timedelta(hours=hours - 1)
    mark = await read_watermark(session)
    raw_from = max(since, mark) if mark else since
    # hour -> runs, failures, errors, sum_ms, p95 weighted by runs, runs with a p95
    points: dict[dt.datetime, list[float]] = defaultdict(lambda: [0.0] * 6)
    rolled = select(
        Rollup.hour,
        func.sum(Rollup.runs),
        func.sum(Rollup.failures),
        func.sum(Rollup.errors),
        func.sum(Rollup.sum_ms),
        func.sum(Rollup.p95_ms * Rollup.runs),
    ).where(Rollup.cluster_id == cluster.id, Rollup.hour >= since, Rollup.hour < raw_from)
    if case_id is not None:
        rolled = rolled.where(Rollup.case_id == case_id)
    for hour, n, failures, errors, sum_ms, p95w in await session.execute(rolled.group_by(Rollup.hour)):
        points[aware(hour)] = [
            float(n),
            float(failures),
            float(errors),
            float(sum_ms or 0),
            float(p95w or 0),
            float(n),
        ]
    raw = select(Run.finished, Run.state, Run.duration_ms).where(
        Run.cluster_id == cluster.id,
        Run.created >= raw_from - dt.timedelta(days=1),
        Run.finished >= raw_from,
    )
    if case_id is not None:
        raw = raw.where(Run.case_id == case_id)
    durations: dict[dt.datetime, list[float]] = defaultdict(list)
    for finished, state, duration in await session.execute(raw):
        if state == RunState.CANCELLED or finished is None:
            continue
        hour = floor_hour(aware(finished))
        entry = points[hour]
        entry[0] += 1
        entry[1] += state in FAILURE_STATES
        entry[2] += state in ERROR_STATES
        entry[3] += duration or 0.0
        durations[hour].append(duration or 0.0)
    for hour, values in durations.items():
        values.sort()
        p95 = values[max(0, -(-95 * len(values) // 100) - 1)]
        points[hour][4] += p95 * len(values)
        points[hour][5] += len(values)
    out = []
    for i in range(hours):
        hour = since + dt.timedelta(hours=i)
        runs, fails, errs, sum_ms, p95w, weighted = points.get(hour, [0.0] * 6)
        out.append(
            HourPoint(
                hour=hour,
                runs=int(runs),
                failures=int(fails),
                errors=int(errs),
                avg_ms=sum_ms / runs if runs else None,
                p95_ms=p95w / weighted if weighted else None,
            )
        )
    return out


async def open_findings(session: AsyncSession, name: str, limit: int) -> list[dict[str, Any]]:
    """Findings of the latest finished run of each case on the cluster: what is still wrong there."""
    cluster = await by_name(session, Cluster, name, "cluster")
    rows = await session.execute(
        select(RunFinding, Case.name, CaseStatus.run_id, CaseStatus.finished)
        .join(CaseStatus, CaseStatus.run_id == RunFinding.run_id)
        .join(Case, Case.id == CaseStatus.case_id)
        .where(CaseStatus.cluster_id == cluster.id)
        .order_by(RunFinding.id)
        .limit(limit)
    )
    return [
        {
            "case": case,
            "run": run_id,
            "finished": aware(finished),
            "check_id": f.check_id,
            "severity": f.severity,
            "object": f.object,
            "message": f.message,
            "hint": f.hint,
        }
        for f, case, run_id, finished in rows.all()
    ]
