"""Run metrics in the store: what ``/metrics`` exports, read in one transaction (see
:mod:`kubeprobe.center.services.metrics` for the metrics and their meaning).

Finished-run totals are hourly rollups before the rollup watermark plus raw runs after it, so
retention of raw runs does not lower them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store import staleness
from kubeprobe.center.store.common import aware
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import read_watermark
from kubeprobe.center.store.tables import Case, CaseStatus, Cluster, Rollup, Run
from kubeprobe.model import RunState
from kubeprobe.model.runs import ERROR_STATES, FAILURE_STATES, UNFINISHED_STATES, state_values

Pair = tuple[str, str]


def result_of(state: str) -> str | None:
    """The ``result`` label of a terminal state; None for a cancelled run."""
    if state in FAILURE_STATES:
        return "failed"
    if state in ERROR_STATES:
        return "error"
    return "succeeded" if state == "succeeded" else None


@dataclass
class Snapshot:
    run_totals: dict[tuple[str, str, str], int] = field(default_factory=dict)
    consecutive_failures: dict[Pair, int] = field(default_factory=dict)
    since_success: dict[Pair, float] = field(default_factory=dict)
    queue: dict[str, int] = field(default_factory=dict)
    lag_seconds: float = 0.0
    ingestion_per_second: float = 0.0
    #: (binding, cluster, case) of interval bindings → (seconds since its last result, or since the
    #: binding was made when it has none; its interval)
    binding_ages: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)


async def read(
    store: Store, now: dt.datetime, finished_since: dt.datetime
) -> tuple[Snapshot, dict[int, str], list[Any]]:
    """The snapshot at ``now``, case names by id, and (run id, case id, finished, duration_ms) of the
    runs finished since ``finished_since``."""
    snap = Snapshot()
    for w in await staleness.watches(store):
        if w.kind == "binding":
            snap.binding_ages[(w.binding, w.cluster, w.subject)] = (w.age_s(now), w.interval_s)
    async with store.transaction() as session:
        clusters = dict((await session.execute(select(Cluster.id, Cluster.name))).all())
        cases = dict((await session.execute(select(Case.id, Case.name))).all())
        await _run_totals(session, snap, clusters, cases)
        await _failures(session, snap, clusters, cases, now)
        await _queue(session, snap, now)
        finished = (
            await session.execute(
                select(Run.id, Run.case_id, Run.finished, Run.duration_ms).where(
                    Run.finished >= finished_since, Run.duration_ms.is_not(None)
                )
            )
        ).all()
    return snap, cases, list(finished)


async def _run_totals(
    session: AsyncSession, snap: Snapshot, clusters: dict[int, str], cases: dict[int, str]
) -> None:
    mark = await read_watermark(session)
    totals: dict[tuple[str, str, str], int] = defaultdict(int)

    def add(cluster_id: int, case_id: int, result: str, n: int) -> None:
        if cluster_id in clusters and case_id in cases and n:
            totals[(clusters[cluster_id], cases[case_id], result)] += n

    if mark is not None:
        rolled = await session.execute(
            select(
                Rollup.cluster_id,
                Rollup.case_id,
                func.sum(Rollup.runs),
                func.sum(Rollup.failures),
                func.sum(Rollup.errors),
            )
            .where(Rollup.hour < mark)
            .group_by(Rollup.cluster_id, Rollup.case_id)
        )
        for cluster_id, case_id, runs, failures, errors in rolled:
            add(cluster_id, case_id, "succeeded", int(runs - failures - errors))
            add(cluster_id, case_id, "failed", int(failures))
            add(cluster_id, case_id, "error", int(errors))
    raw = select(Run.cluster_id, Run.case_id, Run.state, func.count()).where(Run.finished.is_not(None))
    if mark is not None:
        raw = raw.where(Run.finished >= mark)
    for cluster_id, case_id, state, n in await session.execute(
        raw.group_by(Run.cluster_id, Run.case_id, Run.state)
    ):
        result = result_of(state)
        if result:
            add(cluster_id, case_id, result, int(n))
    snap.run_totals = dict(totals)


async def _failures(
    session: AsyncSession, snap: Snapshot, clusters: dict[int, str], cases: dict[int, str], now: dt.datetime
) -> None:
    status = (
        await session.execute(
            select(CaseStatus.cluster_id, CaseStatus.case_id, CaseStatus.state, CaseStatus.finished)
        )
    ).all()
    failing: set[tuple[int, int]] = set()
    for cluster_id, case_id, state, finished in status:
        if cluster_id not in clusters or case_id not in cases:
            continue
        pair = (clusters[cluster_id], cases[case_id])
        if state == RunState.SUCCEEDED:
            snap.consecutive_failures[pair] = 0
            snap.since_success[pair] = max(0.0, (now - aware(finished)).total_seconds())
        else:
            failing.add((cluster_id, case_id))
    if not failing:
        return
    cluster_ids = sorted({c for c, _ in failing})
    last_ok = (
        select(Run.cluster_id, Run.case_id, func.max(Run.finished).label("ok"))
        .where(Run.state == str(RunState.SUCCEEDED), Run.cluster_id.in_(cluster_ids))
        .group_by(Run.cluster_id, Run.case_id)
        .subquery()
    )
    for cluster_id, case_id, ok in await session.execute(select(last_ok)):
        if (cluster_id, case_id) in failing and ok is not None:
            pair = (clusters[cluster_id], cases[case_id])
            snap.since_success[pair] = max(0.0, (now - aware(ok)).total_seconds())
    counted = await session.execute(
        select(Run.cluster_id, Run.case_id, func.count())
        .outerjoin(last_ok, and_(last_ok.c.cluster_id == Run.cluster_id, last_ok.c.case_id == Run.case_id))
        .where(
            Run.state.in_(state_values(FAILURE_STATES)),
            Run.cluster_id.in_(cluster_ids),
            or_(last_ok.c.ok.is_(None), Run.finished > last_ok.c.ok),
        )
        .group_by(Run.cluster_id, Run.case_id)
    )
    for cluster_id, case_id in failing:
        snap.consecutive_failures[(clusters[cluster_id], cases[case_id])] = 0
    for cluster_id, case_id, n in counted:
        if (cluster_id, case_id) in failing:
            snap.consecutive_failures[(clusters[cluster_id], cases[case_id])] = int(n)


async def _queue(session: AsyncSession, snap: Snapshot, now: dt.datetime) -> None:
    rows = await session.execute(
        select(Run.state, func.count(), func.min(Run.created))
        .where(Run.state.in_(state_values(UNFINISHED_STATES)))
        .group_by(Run.state)
    )
    for state, n, oldest in rows:
        snap.queue[state] = int(n)
        if state == RunState.PENDING and oldest is not None:
            snap.lag_seconds = max(0.0, (now - aware(oldest)).total_seconds())
    recent = await session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.finished >= now - dt.timedelta(seconds=60), Run.finished <= now)
    )
    snap.ingestion_per_second = float(recent or 0) / 60.0
