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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import CompoundSelect, null, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import REPORT_PREFIX, hash_token, new_token
from kubeprobe.center.errors import ConflictError
from kubeprobe.center.store.clusters import matches
from kubeprobe.center.store.common import lock_run_parents, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import (
    Binding,
    Case,
    CaseTemplate,
    Cluster,
    ClusterGroup,
    Run,
    SuiteCase,
    table_of,
)
from kubeprobe.center.triggers import cron, spread
from kubeprobe.center.triggers.watch import WatchTarget
from kubeprobe.model import RunState, Trigger

log = logging.getLogger(__name__)
NOT_DONE = (str(RunState.PENDING), str(RunState.DISPATCHED), str(RunState.RUNNING))
RUN_NAMESPACE = uuid.UUID("6f1e7c1a-5b7e-4a51-9d43-3c1f3f0b1d2e")
MAX_BATCH = 500  # scheduled firings started in one transaction


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
    watches: tuple[WatchTarget, ...] = ()
    case_timeout: float | None = None  # the template's, read with the bindings

    @property
    def key(self) -> str:
        return f"{self.binding_id}/{self.case_id}/{self.cluster_id}"


async def expand(store: Store, *, only_cluster: int | None = None, periodic: bool = True) -> list[Target]:
    """All targets of enabled bindings (periodic ones, or all when ``periodic`` is False)."""
    async with store.transaction() as session:
        bindings = (
            await session.execute(
                select(
                    Binding.id,
                    Binding.case_id,
                    Binding.suite_id,
                    Binding.cluster_id,
                    Binding.group_id,
                    Binding.interval_seconds,
                    Binding.cron,
                    Binding.jitter_seconds,
                    Binding.timeout_seconds,
                    Binding.concurrency,
                    Binding.events,
                    Binding.watch,
                ).where(Binding.enabled.is_(True))
            )
        ).all()
        clusters = (await session.execute(select(Cluster.id, Cluster.labels))).all()
        groups = {g.id: g for g in (await session.execute(select(ClusterGroup))).scalars()}
        case_timeouts = dict(
            (
                await session.execute(
                    select(Case.id, CaseTemplate.timeout_seconds).join(
                        CaseTemplate, Case.template_id == CaseTemplate.id
                    )
                )
            ).all()
        )
        suites: dict[int, list[int]] = {}
        for suite_id, case_id in (await session.execute(select(SuiteCase.suite_id, SuiteCase.case_id))).all():
            suites.setdefault(suite_id, []).append(case_id)
    targets = []
    for b in bindings:
        if periodic and not (b.interval_seconds or b.cron):
            continue
        watches = tuple(_watch_target(w) for w in b.watch or [])
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
                            watches,
                            case_timeouts.get(case_id),
                        )
                    )
    return targets


def _watch_target(stored: dict[str, Any]) -> WatchTarget:
    return WatchTarget(
        stored.get("api_version", "v1"),
        stored["resource"],
        stored.get("namespace"),
        stored.get("label_selector"),
        stored.get("name"),
    )


async def _create_pending(
    session: AsyncSession,
    targets: Sequence[Target],
    trigger: Trigger,
    now: dt.datetime,
    *,
    run_ids: Sequence[str | None] | None = None,
    details: dict[str, object] | None = None,
) -> list[str | None]:
    """In an open transaction: a pending run per target under its concurrency policy (None where
    skipped). One query for the unfinished runs of all targets (and whether their cases and clusters
    still exist), one for their timeouts, one bulk insert: a fan-out to hundreds of cases costs a
    few statements, not a few per case."""
    if not targets:
        return []
    case_ids = {t.case_id for t in targets}
    cluster_ids = {t.cluster_id for t in targets}
    await lock_run_parents(session)  # runs have no foreign keys: a target deleted meanwhile is skipped
    # one round trip: the unfinished runs of the targets, then which of their cases and clusters
    # still exist (rows of the form (NULL, case, NULL) and (NULL, NULL, cluster))
    query: CompoundSelect[Any] = union_all(
        select(Run.id, Run.case_id, Run.cluster_id).where(
            Run.state.in_(NOT_DONE), Run.case_id.in_(case_ids), Run.cluster_id.in_(cluster_ids)
        ),
        select(null(), Case.id, null()).where(Case.id.in_(case_ids)),
        select(null(), null(), Cluster.id).where(Cluster.id.in_(cluster_ids)),
    )
    unfinished: dict[tuple[int, int], list[str]] = {}
    live_cases: set[int] = set()
    live_clusters: set[int] = set()
    for run_id, case_id, cluster_id in (await session.execute(query)).all():
        if run_id is not None:
            unfinished.setdefault((case_id, cluster_id), []).append(run_id)
        elif case_id is not None:
            live_cases.add(case_id)
        else:
            live_clusters.add(cluster_id)
    timeouts: dict[int, float] = {t.case_id: t.case_timeout for t in targets if t.case_timeout is not None}
    if any(t.timeout is None and t.case_id not in timeouts for t in targets):
        rows = await session.execute(
            select(Case.id, CaseTemplate.timeout_seconds)
            .join(CaseTemplate, Case.template_id == CaseTemplate.id)
            .where(Case.id.in_(case_ids))
        )
        timeouts = {case_id: timeout for case_id, timeout in rows.all()}
    replaced: list[str] = []
    rows_out: list[dict[str, Any]] = []
    created: list[str | None] = []
    ids = list(run_ids) if run_ids is not None else [None] * len(targets)
    for target, wanted_id in zip(targets, ids, strict=True):
        pair = (target.case_id, target.cluster_id)
        running = unfinished.get(pair, [])
        if target.case_id not in live_cases or target.cluster_id not in live_clusters:
            created.append(None)
            continue
        if running and target.concurrency == "forbid":
            created.append(None)
            continue
        if running and target.concurrency == "replace":
            replaced.extend(running)
        timeout = target.timeout if target.timeout is not None else timeouts[target.case_id]
        run_id = wanted_id or uuid.uuid4().hex
        rows_out.append(
            {
                "id": run_id,
                "case_id": target.case_id,
                "cluster_id": target.cluster_id,
                "binding_id": target.binding_id or None,
                "trigger": str(trigger),
                "state": str(RunState.PENDING),
                "created": now,
                "deadline": now + dt.timedelta(seconds=timeout),
                "messages": [],
                "metrics": {},
                "details": dict(details or {}),
                "report_token_hash": hash_token(new_token(REPORT_PREFIX)),
            }
        )
        unfinished[pair] = [run_id]  # a second target of the same case and cluster sees this one
        created.append(run_id)
    if replaced:
        await session.execute(
            update(Run)
            .where(Run.id.in_(replaced), Run.state.in_(NOT_DONE))
            .values(state=str(RunState.CANCELLED), finished=now, messages=["replaced by a newer run"])
        )
    if rows_out:  # a firing's run that a replica created already is skipped (its id is taken)
        dialect = session.get_bind().dialect.name
        runs = table_of(Run)  # Core, not the ORM's bulk path: a few times cheaper per statement
        bulk = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(runs)
        stmt = bulk.on_conflict_do_nothing(index_elements=[runs.c.id]).returning(runs.c.id)
        inserted = set((await session.execute(stmt, rows_out)).scalars())
        created = [run_id if run_id in inserted else None for run_id in created]
    return created


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
            (created,) = await _create_pending(
                session, [target], trigger, utcnow(), run_ids=[run_id], details=details
            )
            return created
    except (IntegrityError, ConflictError):
        return None  # another replica created this firing's run


async def start_runs(
    store: Store,
    targets: Sequence[Target],
    trigger: Trigger,
    *,
    run_ids: Sequence[str | None] | None = None,
    details: dict[str, object] | None = None,
) -> list[str]:
    """Pending runs for many targets in one transaction (events, gates, watches and the scheduler's
    due firings fan out this way)."""
    async with store.transaction() as session:
        created = await _create_pending(session, targets, trigger, utcnow(), run_ids=run_ids, details=details)
    return [run_id for run_id in created if run_id]


PauseCheck = Callable[[set[tuple[int, int]]], Awaitable[set[tuple[int, int]]]]


class Claimer(Protocol):
    """The dispatcher's side of :func:`start_firings`: claim runs in the same transaction."""

    async def claim_in(self, session: AsyncSession, run_ids: Sequence[str]) -> Sequence[Any]: ...

    def launch(self, batch: Sequence[Any]) -> None: ...


async def start_firings(
    store: Store, firings: Sequence[tuple[str, Target]], dispatcher: Claimer | None = None
) -> list[str]:
    """Scheduled firings ``(run id, target)`` in one transaction; ids another replica already
    created are skipped (insert ... on conflict do nothing). With a
    ``dispatcher``, the new runs are claimed in the same transaction and launched after it."""
    claimed: Sequence[Any] = []
    try:
        async with store.transaction() as session:
            created = await _create_pending(
                session,
                [t for _, t in firings],
                Trigger.SCHEDULE,
                utcnow(),
                run_ids=[run_id for run_id, _ in firings],
            )
            if dispatcher is not None:
                claimed = await dispatcher.claim_in(session, [run_id for run_id in created if run_id])
        if dispatcher is not None:
            dispatcher.launch(claimed)
        return [run_id for run_id in created if run_id]
    except ConflictError:
        started = [await start_run(store, t, Trigger.SCHEDULE, run_id=run_id) for run_id, t in firings]
        return [run_id for run_id in started if run_id]


class Scheduler:
    """Fires periodic targets on time; reloads bindings every ``refresh_seconds``."""

    def __init__(
        self,
        store: Store,
        *,
        refresh_seconds: float = 10.0,
        on_run: asyncio.Event | None = None,
        dispatcher: Claimer | None = None,
        paused: PauseCheck | None = None,
    ) -> None:
        """``dispatcher``: claim and launch each firing's runs in the transaction that creates
        them (else they wait, pending, for the dispatcher's next claim; ``on_run`` wakes it).
        ``paused``: which (cluster id, case id) pairs a maintenance window pauses; their periodic
        firings are skipped (counted in ``skipped_paused``), events and manual runs still go."""
        self.store = store
        self.paused = paused
        self.skipped_paused = 0
        self.dispatcher = dispatcher
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

    async def _drop_paused(self, due: list[tuple[str, Target]]) -> list[tuple[str, Target]]:
        if self.paused is None:
            return due
        try:
            stopped = await self.paused({(t.cluster_id, t.case_id) for _, t in due})
        except Exception:  # windows unreadable: run as planned rather than silently stop probing
            log.exception("reading maintenance windows failed; firing anyway")
            return due
        if not stopped:
            return due
        kept = [(run_id, t) for run_id, t in due if (t.cluster_id, t.case_id) not in stopped]
        self.skipped_paused += len(due) - len(kept)
        return kept

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
            try:
                targets = await expand(self.store)
                # Plan from when the bindings are loaded, not from before: loading 1,000 takes a
                # few hundred ms, and planning from earlier made every start due in that time fire
                # in one clump.
                heap = self.plan(targets, dt.datetime.now(dt.UTC).timestamp())
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
                due: list[tuple[str, Target]] = []
                now_ts = dt.datetime.now(dt.UTC).timestamp()
                while heap and heap[0][0] <= now_ts and len(due) < MAX_BATCH:
                    when, key, target = heapq.heappop(heap)
                    due.append((uuid.uuid5(RUN_NAMESPACE, f"{key}@{when:.3f}").hex, target))
                    heapq.heappush(heap, (self._next(target, self._slots, when), key, target))
                try:
                    due = await self._drop_paused(due)
                    started = await start_firings(self.store, due, self.dispatcher) if due else []
                except Exception:
                    log.exception("starting %d scheduled runs failed", len(due))
                    started = []
                if started:
                    self.fired += len(started)
                    if self.on_run:
                        self.on_run.set()
            if not heap:
                await asyncio.sleep(max(0.0, refresh_at - loop.time()))
