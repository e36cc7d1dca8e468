"""A cluster's health per case: last state, success ratio and latency, from rollups plus fresh raw runs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.run_schemas import CaseHealth, ClusterHealth
from kubeprobe.center.store.common import by_name, utcnow
from kubeprobe.center.store.rollups import ERRORS, FAILURES, floor_hour, read_watermark
from kubeprobe.center.store.tables import Case, CaseStatus, Cluster, Rollup, Run


async def cluster_health(session: AsyncSession, name: str, window_hours: int) -> ClusterHealth:
    if not 1 <= window_hours <= 24 * 400:
        raise InvalidInputError(
            f"window_hours: {window_hours} is out of range; allowed: 1 to 9600", field="window_hours"
        )
    cluster = await by_name(session, Cluster, name, "cluster")
    now = utcnow()
    since = floor_hour(now) - dt.timedelta(hours=window_hours)
    mark = await read_watermark(session)
    raw_from = max(since, mark) if mark else since
    # runs, failures, errors, sum_ms, sum of p95 weighted by runs
    agg: dict[int, list[float]] = defaultdict(lambda: [0.0] * 6)
    rolled = await session.execute(
        select(
            Rollup.case_id,
            func.sum(Rollup.runs),
            func.sum(Rollup.failures),
            func.sum(Rollup.errors),
            func.sum(Rollup.sum_ms),
            func.sum(Rollup.p95_ms * Rollup.runs),
        )
        .where(Rollup.cluster_id == cluster.id, Rollup.hour >= since, Rollup.hour < raw_from)
        .group_by(Rollup.case_id)
    )
    for case_id, n, failures, errors, total_ms, p95w in rolled:
        agg[case_id] = [
            float(n),
            float(failures),
            float(errors),
            float(total_ms or 0),
            float(p95w or 0),
            float(n),
        ]
    fresh = await session.execute(
        select(Run.case_id, Run.state, func.count(), func.sum(Run.duration_ms))
        .where(
            Run.cluster_id == cluster.id,
            Run.created >= raw_from - dt.timedelta(days=1),
            Run.finished >= raw_from,
        )
        .group_by(Run.case_id, Run.state)
    )
    for case_id, state, count, fresh_ms in fresh:
        entry = agg[case_id]
        entry[0] += count
        entry[1] += count if state in FAILURES else 0
        entry[2] += count if state in ERRORS else 0
        entry[3] += fresh_ms or 0.0
    status = {
        row.case_id: row
        for row in (
            await session.execute(select(CaseStatus).where(CaseStatus.cluster_id == cluster.id))
        ).scalars()
    }
    ids = set(agg) | set(status)
    names = (
        dict((await session.execute(select(Case.id, Case.name).where(Case.id.in_(ids)))).all()) if ids else {}
    )
    cases = []
    for case_id in sorted(ids, key=lambda i: names.get(i, "")):
        runs, fails, errs, sum_ms, p95_weighted, rolled_runs = agg.get(case_id, [0.0] * 6)
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
                latency_p95_ms=p95_weighted / rolled_runs if rolled_runs else None,
            )
        )
    return ClusterHealth(cluster=cluster.name, state=cluster.state, window_hours=window_hours, cases=cases)
