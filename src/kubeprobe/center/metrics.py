"""Prometheus metrics about runs, computed from the store at scrape time (so replicas agree, nothing drifts).

`StoreCollector.refresh(store)` runs a few cheap queries at most every `cache_seconds`; `collect()`
then yields the cached snapshot. Cardinality is bounded by clusters x cases (x 3 results); run ids
never become labels.

- ``kubeprobe_run_total{cluster,case,result}``: finished runs, result ``succeeded`` / ``failed``
  (failed or timed out: the case proved a problem) / ``error`` (could not run). Hourly rollups
  before the rollup watermark plus raw runs after it, so retention of raw runs does not lower it.
  Rollups do not tell cancelled runs apart: past the watermark they count as ``succeeded``.
- ``kubeprobe_run_duration_seconds{case}``: histogram of run durations, observed once per run from
  runs that finished since `first_seconds` before this replica's first scrape, re-reading the last
  `lookback_seconds` each time for results that arrive late (a replica's own counter: use
  ``rate()``; several replicas see the same runs).
- ``kubeprobe_case_consecutive_failures{cluster,case}``: failed/timed-out runs since the last success
  (errors neither count nor reset it); 0 when the latest run succeeded.
- ``kubeprobe_case_seconds_since_success{cluster,case}``: seconds since the last successful run (only
  for pairs with a success still in the raw store).
- ``kubeprobe_scheduler_lag_seconds``: age of the oldest pending run (0 when none waits).
- ``kubeprobe_queue_depth{state}``: runs pending, dispatched and running.
- ``kubeprobe_ingestion_runs_per_second``: runs that finished in the last minute, per second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.rollups import ERRORS, FAILURES, read_watermark
from kubeprobe.center.store.tables import Case, CaseStatus, Cluster, Rollup, Run

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
QUEUED = ("pending", "dispatched", "running")
Pair = tuple[str, str]


def result_of(state: str) -> str | None:
    """The ``result`` label of a terminal state; None for a cancelled run."""
    if state in FAILURES:
        return "failed"
    if state in ERRORS:
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


@dataclass
class DurationHistogram:
    """Bucket counts per case, filled from runs as they finish (each run once)."""

    buckets: dict[str, list[int]] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seen: dict[str, dt.datetime] = field(default_factory=dict)
    cursor: dt.datetime | None = None

    def observe(self, case: str, seconds: float) -> None:
        counts = self.buckets.setdefault(case, [0] * (len(BUCKETS) + 1))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[case] += seconds


class StoreCollector(Collector):
    """Run metrics from the store; `refresh` before `collect` (the /metrics route does)."""

    def __init__(
        self, *, cache_seconds: float = 5.0, lookback_seconds: float = 120.0, first_seconds: float = 3600.0
    ) -> None:
        self.cache_seconds = cache_seconds
        self.lookback = dt.timedelta(seconds=lookback_seconds)
        self.first = dt.timedelta(seconds=first_seconds)
        self.snapshot = Snapshot()
        self.durations = DurationHistogram()
        self._taken: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, store: Store) -> None:
        async with self._lock:
            if self._taken is not None and time.monotonic() - self._taken < self.cache_seconds:
                return
            async with store.transaction() as session:
                now = utcnow()
                clusters = dict((await session.execute(select(Cluster.id, Cluster.name))).all())
                cases = dict((await session.execute(select(Case.id, Case.name))).all())
                snap = Snapshot()
                await _run_totals(session, snap, clusters, cases)
                await _failures(session, snap, clusters, cases, now)
                await _queue(session, snap, now)
                await self._observe_durations(session, cases, now)
            self.snapshot = snap
            self._taken = time.monotonic()

    async def _observe_durations(
        self, session: AsyncSession, cases: dict[int, str], now: dt.datetime
    ) -> None:
        h = self.durations
        since = h.cursor - self.lookback if h.cursor else now - self.first
        rows = await session.execute(
            select(Run.id, Run.case_id, Run.finished, Run.duration_ms).where(
                Run.finished >= since, Run.duration_ms.is_not(None)
            )
        )
        for run_id, case_id, finished, duration_ms in rows:
            if run_id in h.seen or case_id not in cases or finished is None or duration_ms is None:
                continue
            h.seen[run_id] = finished
            h.observe(cases[case_id], float(duration_ms) / 1000)
        h.cursor = now
        h.seen = {k: v for k, v in h.seen.items() if _aware(v) >= since}

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        total = CounterMetricFamily(
            "kubeprobe_run", "finished runs by result", labels=["cluster", "case", "result"]
        )
        for (cluster, case, result), n in sorted(snap.run_totals.items()):
            total.add_metric([cluster, case, result], n)
        yield total
        hist = HistogramMetricFamily(
            "kubeprobe_run_duration_seconds", "run durations (runs seen by this replica)", labels=["case"]
        )
        for case, counts in sorted(self.durations.buckets.items()):
            buckets = [(str(b), float(c)) for b, c in zip(BUCKETS, counts, strict=False)]
            buckets.append(("+Inf", float(counts[-1])))
            hist.add_metric([case], buckets, self.durations.sums[case])
        yield hist
        consecutive = GaugeMetricFamily(
            "kubeprobe_case_consecutive_failures",
            "failed or timed-out runs since the last success",
            labels=["cluster", "case"],
        )
        for pair, n in sorted(snap.consecutive_failures.items()):
            consecutive.add_metric(list(pair), n)
        yield consecutive
        since = GaugeMetricFamily(
            "kubeprobe_case_seconds_since_success",
            "seconds since the last successful run",
            labels=["cluster", "case"],
        )
        for pair, seconds in sorted(snap.since_success.items()):
            since.add_metric(list(pair), seconds)
        yield since
        queue = GaugeMetricFamily("kubeprobe_queue_depth", "runs not finished yet", labels=["state"])
        for state in QUEUED:
            queue.add_metric([state], snap.queue.get(state, 0))
        yield queue
        yield GaugeMetricFamily(
            "kubeprobe_scheduler_lag_seconds", "age of the oldest pending run", value=snap.lag_seconds
        )
        yield GaugeMetricFamily(
            "kubeprobe_ingestion_runs_per_second",
            "runs finished in the last minute, per second",
            value=snap.ingestion_per_second,
        )


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


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
        if state == "succeeded":
            snap.consecutive_failures[pair] = 0
            snap.since_success[pair] = max(0.0, (now - _aware(finished)).total_seconds())
        else:
            failing.add((cluster_id, case_id))
    if not failing:
        return
    cluster_ids = sorted({c for c, _ in failing})
    last_ok = (
        select(Run.cluster_id, Run.case_id, func.max(Run.finished).label("ok"))
        .where(Run.state == "succeeded", Run.cluster_id.in_(cluster_ids))
        .group_by(Run.cluster_id, Run.case_id)
        .subquery()
    )
    for cluster_id, case_id, ok in await session.execute(select(last_ok)):
        if (cluster_id, case_id) in failing and ok is not None:
            pair = (clusters[cluster_id], cases[case_id])
            snap.since_success[pair] = max(0.0, (now - _aware(ok)).total_seconds())
    counted = await session.execute(
        select(Run.cluster_id, Run.case_id, func.count())
        .outerjoin(last_ok, and_(last_ok.c.cluster_id == Run.cluster_id, last_ok.c.case_id == Run.case_id))
        .where(
            Run.state.in_(sorted(FAILURES)),
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
        .where(Run.state.in_(QUEUED))
        .group_by(Run.state)
    )
    for state, n, oldest in rows:
        snap.queue[state] = int(n)
        if state == "pending" and oldest is not None:
            snap.lag_seconds = max(0.0, (now - _aware(oldest)).total_seconds())
    recent = await session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.finished >= now - dt.timedelta(seconds=60), Run.finished <= now)
    )
    snap.ingestion_per_second = float(recent or 0) / 60.0
