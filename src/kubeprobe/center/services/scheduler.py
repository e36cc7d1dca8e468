"""The scheduler: bindings with an interval or a cron expression become pending runs on time.

Every (binding, case, cluster) target gets a slot in its interval (see ``triggers.spread``), so
targets that share an interval are spread evenly; jitter is deterministic per target and firing,
and a run's id is derived from (target, firing). Replicas that share a database therefore compute
the same runs and the primary key lets exactly one of them create each: no leader is needed.
The runs are created by :mod:`kubeprobe.center.store.pending` under the binding's concurrency
policy.

In an HA center only the targets of the clusters this replica's leases hold are fired (the slots
are still spread over every target of the fleet, so every replica computes the same firings); a
change of ownership reloads at once, and a cluster taken over from a dead replica has the firings
due since that replica's last lease renewal started late (their ids are the same, so the ones the
dead replica created already are skipped): a takeover delays firings, it does not drop them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from kubeprobe.center.store import bindings, pending
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.dispatching import ClaimRow
from kubeprobe.center.store.targets import expand
from kubeprobe.center.triggers import cron, spread
from kubeprobe.center.triggers.targets import Target

log = logging.getLogger(__name__)
RUN_NAMESPACE = uuid.UUID("6f1e7c1a-5b7e-4a51-9d43-3c1f3f0b1d2e")
MAX_BATCH = 500  # scheduled firings started in one transaction


PauseCheck = Callable[[set[tuple[int, int]]], Awaitable[set[tuple[int, int]]]]


class Claimer(Protocol):
    """The dispatcher's side of :func:`start_firings`: how many runs it takes now, and running those
    claimed in the transaction that created them."""

    @property
    def room(self) -> int: ...

    @property
    def owner(self) -> str | None: ...

    def launch_claimed(self, rows: Sequence[ClaimRow]) -> None: ...


async def start_firings(
    store: Store, firings: Sequence[tuple[str, Target]], dispatcher: Claimer | None = None
) -> list[str]:
    """Scheduled firings ``(run id, target)`` in one transaction (ids another replica already
    created are skipped). With a ``dispatcher``, the new runs are claimed in the same transaction
    and launched after it."""
    created, claimed = await pending.start_firings(
        store,
        firings,
        claim=dispatcher.room if dispatcher is not None else 0,
        owner=dispatcher.owner if dispatcher is not None else None,
    )
    if dispatcher is not None and claimed:
        dispatcher.launch_claimed(claimed)
    return created


class Ownership(Protocol):
    """What the scheduler needs of a lease keeper."""

    clusters: frozenset[int]

    async def wait_change(self, timeout: float | None = None) -> bool: ...

    def take_catch_up(self) -> dict[int, dt.datetime]: ...


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
        ownership: Ownership | None = None,
    ) -> None:
        """``dispatcher``: claim and launch each firing's runs in the transaction that creates
        them (else they wait, pending, for the dispatcher's next claim; ``on_run`` wakes it).
        ``paused``: which (cluster id, case id) pairs a maintenance window pauses; their periodic
        firings are skipped (counted in ``skipped_paused``), events and manual runs still go."""
        self.store = store
        self.ownership = ownership
        self.paused = paused
        self.skipped_paused = 0
        self.dispatcher = dispatcher
        self.refresh_seconds = refresh_seconds
        self.on_run = on_run
        self.fired = 0
        self._slots: dict[str, spread.Slot] = {}
        #: Targets that cannot be scheduled (a cron stored before it was checked), by key: why.
        self.problems: dict[str, str] = {}

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

    def plan(
        self, targets: Iterable[Target], now: float, catch_up: dict[int, float] | None = None
    ) -> list[tuple[float, str, Target]]:
        """The next firing of each target this replica fires (all without leases), from ``now``
        or, for a cluster in ``catch_up``, from when its firings may have stopped."""
        by_interval: dict[float, list[str]] = {}
        items = list(targets)
        for t in items:
            if t.interval and not t.cron:
                by_interval.setdefault(t.interval, []).append(t.key)
        slots = spread.plan(by_interval)
        if self.ownership is not None:
            owned = self.ownership.clusters
            items = [t for t in items if t.cluster_id in owned]
        catch_up = catch_up or {}
        heap = []
        problems: dict[str, str] = {}
        for t in items:  # one binding that cannot be planned never stops the others
            try:
                heap.append((self._next(t, slots, min(now, catch_up.get(t.cluster_id, now))), t.key, t))
            except (cron.CronError, KeyError, ValueError, OverflowError) as exc:
                problems[t.key] = str(exc)
        for key in problems.keys() - self.problems.keys():
            log.error("binding target %s cannot be scheduled and is skipped: %s", key, problems[key])
        self.problems = problems
        heapq.heapify(heap)
        self._slots = slots
        return heap

    async def _show_problems(self) -> None:
        """Each binding's problems on the binding itself (``error``), the others' cleared."""
        errors: dict[int, str] = {}
        for key, problem in sorted(self.problems.items()):
            binding_id = int(key.split("/", 1)[0])
            errors[binding_id] = errors.get(binding_id) or f"skipped by the scheduler: {problem}"[:2000]
        try:
            await bindings.record_errors(self.store, errors)
        except Exception:  # the database may be away: shown at the next reload
            log.exception("recording the errors of %d binding(s) failed", len(errors))

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                targets = await expand(self.store)
                # Plan from when the bindings are loaded, not from before: loading 1,000 takes a
                # few hundred ms, and planning from earlier made every start due in that time fire
                # in one clump.
                catch_up = self.ownership.take_catch_up() if self.ownership is not None else {}
                heap = self.plan(
                    targets,
                    dt.datetime.now(dt.UTC).timestamp(),
                    {c: t.timestamp() for c, t in catch_up.items()},
                )
            except Exception:  # the database may be away: keep the loop alive, retry
                log.exception("loading bindings failed; retrying")
                await asyncio.sleep(min(self.refresh_seconds, 5.0))
                continue
            refresh_at = loop.time() + self.refresh_seconds
            await self._show_problems()
            while heap and loop.time() < refresh_at:
                when, key, target = heap[0]
                delay = when - dt.datetime.now(dt.UTC).timestamp()
                if delay > 0:
                    if await self._pause(min(delay, refresh_at - loop.time())):
                        break  # what this replica owns changed: plan again
                    continue
                due: list[tuple[str, Target]] = []
                now_ts = dt.datetime.now(dt.UTC).timestamp()
                while heap and heap[0][0] <= now_ts and len(due) < MAX_BATCH:
                    when, key, target = heapq.heappop(heap)
                    due.append((uuid.uuid5(RUN_NAMESPACE, f"{key}@{when:.3f}").hex, target))
                    try:
                        heapq.heappush(heap, (self._next(target, self._slots, when), key, target))
                    except (cron.CronError, KeyError, ValueError, OverflowError) as exc:
                        self.problems[key] = str(exc)  # no further firing: dropped until reloaded
                        await self._show_problems()
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
                await self._pause(max(0.0, refresh_at - loop.time()))

    async def _pause(self, seconds: float) -> bool:
        """Sleep, or less when this replica's clusters change; whether they did."""
        if self.ownership is None:
            await asyncio.sleep(seconds)
            return False
        return await self.ownership.wait_change(seconds)
