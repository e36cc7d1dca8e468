"""Periodic triggers: bindings with an interval or a cron expression become pending runs on time.

Every (binding, case, cluster) target gets a slot in its interval (see ``triggers.spread``), so
targets that share an interval are spread evenly; jitter is deterministic per target and firing,
and a run's id is derived from (target, firing). Replicas that share a database therefore compute
the same runs and the primary key lets exactly one of them create each: no leader is needed.
The concurrency policy of the binding decides what happens when the previous run still runs:
``forbid`` skips, ``replace`` cancels it, ``allow`` starts another.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.store.clusters import matches
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Binding, Case, CaseTemplate, Cluster, ClusterGroup, Run, SuiteCase
from kubeprobe.center.triggers import cron, spread
from kubeprobe.model import RunState, Trigger

log = logging.getLogger(__name__)
NOT_DONE = (str(RunState.PENDING), str(RunState.DISPATCHED), str(RunState.RUNNING))
RUN_NAMESPACE = uuid.UUID("6f1e7c1a-5b7e-4a51-9d43-3c1f3f0b1d2e")


@dataclass(frozen=True)
class Target:
    """One (binding, case, cluster) that a binding expands to."""

    binding_id: int
    case_id: int
    cluster_id: int
    interval: float | None
    cron: str | None
    jitter: float
    timeout: float | None
    concurrency: str
    events: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.binding_id}/{self.case_id}/{self.cluster_id}"


async def expand(store: Store, *, only_cluster: int | None = None, periodic: bool = True) -> list[Target]:
    """All targets of enabled bindings (periodic ones, or all when ``periodic`` is False)."""
    async with store.transaction() as session:
        bindings = (await session.execute(select(Binding).where(Binding.enabled.is_(True)))).scalars().all()
        clusters = (await session.execute(select(Cluster.id, Cluster.labels))).all()
        groups = {g.id: g for g in (await session.execute(select(ClusterGroup))).scalars()}
        suites: dict[int, list[int]] = {}
        for suite_id, case_id in (await session.execute(select(SuiteCase.suite_id, SuiteCase.case_id))).all():
            suites.setdefault(suite_id, []).append(case_id)
    targets = []
    for b in bindings:
        if periodic and not (b.interval_seconds or b.cron):
            continue
        cases = [b.case_id] if b.case_id else suites.get(b.suite_id or -1, [])
        if b.cluster_id:
            cluster_ids = [b.cluster_id]
        else:
            selector = groups[b.group_id].selector if b.group_id in groups else None
            cluster_ids = [
                cid for cid, labels in clusters if selector is not None and matches(labels or {}, selector)
            ]
        for case_id in cases:
            for cluster_id in cluster_ids:
                if only_cluster is None or cluster_id == only_cluster:
                    targets.append(
                        Target(
                            b.id,
                            case_id,
                            cluster_id,
                            b.interval_seconds,
                            b.cron,
                            b.jitter_seconds,
                            b.timeout_seconds,
                            b.concurrency,
                            tuple(b.events or ()),
                        )
                    )
    return targets


async def _create_pending(
    session: AsyncSession,
    target: Target,
    trigger: Trigger,
    now: dt.datetime,
    *,
    run_id: str | None = None,
    details: dict[str, object] | None = None,
) -> str | None:
    """In an open transaction: a pending run for ``target`` under its concurrency policy, or None."""
    running = (
        (
            await session.execute(
                select(Run.id).where(
                    Run.case_id == target.case_id,
                    Run.cluster_id == target.cluster_id,
                    Run.state.in_(NOT_DONE),
                )
            )
        )
        .scalars()
        .all()
    )
    if running and target.concurrency == "forbid":
        return None
    if running and target.concurrency == "replace":
        await session.execute(
            update(Run)
            .where(Run.id.in_(running), Run.state.in_(NOT_DONE))
            .values(state=str(RunState.CANCELLED), finished=now, messages=["replaced by a newer run"])
        )
    timeout = target.timeout
    if timeout is None:
        timeout = (
            await session.execute(
                select(CaseTemplate.timeout_seconds)
                .join(Case, Case.template_id == CaseTemplate.id)
                .where(Case.id == target.case_id)
            )
        ).scalar_one()
    run = Run(
        id=run_id or uuid.uuid4().hex,
        case_id=target.case_id,
        cluster_id=target.cluster_id,
        binding_id=target.binding_id or None,
        trigger=str(trigger),
        state=str(RunState.PENDING),
        created=now,
        deadline=now + dt.timedelta(seconds=timeout),
        messages=[],
        metrics={},
        details=dict(details or {}),
        report_token_hash=hash_token(new_token(REPORT_PREFIX)),
    )
    session.add(run)
    await session.flush()
    return run.id


async def start_run(
    store: Store,
    target: Target,
    trigger: Trigger,
    *,
    run_id: str | None = None,
    details: dict[str, object] | None = None,
) -> str | None:
    """Create a pending run for ``target`` under its concurrency policy; None when skipped or taken."""
    try:
        async with store.transaction() as session:
            return await _create_pending(session, target, trigger, utcnow(), run_id=run_id, details=details)
    except IntegrityError:
        return None  # another replica created this firing's run


async def start_runs(
    store: Store, targets: list[Target], trigger: Trigger, *, details: dict[str, object] | None = None
) -> list[str]:
    """Pending runs for many targets in one transaction (events and gates fan out this way)."""
    now = utcnow()
    async with store.transaction() as session:
        created = [await _create_pending(session, t, trigger, now, details=details) for t in targets]
    return [run_id for run_id in created if run_id]


class Scheduler:
    """Fires periodic targets on time; reloads bindings every ``refresh_seconds``."""

    def __init__(
        self, store: Store, *, refresh_seconds: float = 10.0, on_run: asyncio.Event | None = None
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.on_run = on_run
        self.fired = 0
        self._slots: dict[str, spread.Slot] = {}

    def _next(self, target: Target, slots: dict[str, spread.Slot], after: float) -> float:
        if target.cron:
            when = dt.datetime.fromtimestamp(after, dt.UTC)
            return cron.next_start(
                target.cron, when, key=target.key, jitter_seconds=target.jitter
            ).timestamp()
        slot = slots[target.key]
        base = slot.next_start(after)
        # Deterministic jitter inside the slot: every replica computes the same firing time.
        fraction = (spread.stable_hash(f"{target.key}@{base:.3f}") % 10_000) / 10_000
        return base + fraction * min(target.jitter, slot.width)

    def plan(self, targets: Iterable[Target], now: float) -> list[tuple[float, str, Target]]:
        by_interval: dict[float, list[str]] = {}
        items = list(targets)
        for t in items:
            if t.interval and not t.cron:
                by_interval.setdefault(t.interval, []).append(t.key)
        slots = spread.plan(by_interval)
        heap = [(self._next(t, slots, now), t.key, t) for t in items]
        heapq.heapify(heap)
        self._slots = slots
        return heap

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = dt.datetime.now(dt.UTC).timestamp()
            try:
                heap = self.plan(await expand(self.store), now)
            except Exception:  # the database may be away: keep the loop alive, retry
                log.exception("loading bindings failed; retrying")
                await asyncio.sleep(min(self.refresh_seconds, 5.0))
                continue
            refresh_at = loop.time() + self.refresh_seconds
            while heap and loop.time() < refresh_at:
                when, key, target = heap[0]
                delay = when - dt.datetime.now(dt.UTC).timestamp()
                if delay > 0:
                    await asyncio.sleep(min(delay, refresh_at - loop.time()))
                    continue
                heapq.heappop(heap)
                run_id = uuid.uuid5(RUN_NAMESPACE, f"{key}@{when:.3f}").hex
                try:
                    started = await start_run(self.store, target, Trigger.SCHEDULE, run_id=run_id)
                except Exception:
                    log.exception("starting a scheduled run of %s failed", key)
                    started = None
                if started:
                    self.fired += 1
                    if self.on_run:
                        self.on_run.set()
                heapq.heappush(heap, (self._next(target, self._slots, when), key, target))
            if not heap:
                await asyncio.sleep(max(0.0, refresh_at - loop.time()))
