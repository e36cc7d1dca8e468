"""Leases of an HA center: the :class:`LeaseKeeper` keeps this replica's share of the fleet, and
:class:`Singletons` runs the fleet-wide loops only on the leader.

Every ``renew_seconds`` the keeper renews what it holds and looks at the fleet (one transaction,
:func:`kubeprobe.center.store.leases.renew`), takes free or expired cluster leases up to its share
and the ``leader`` lease when nobody holds it, and lets go of clusters above its share (a replica
that joins gets work). Shares split the fleet exactly: with C clusters and R live replicas each
gets C // R, and the first C % R replicas by name one more (10 clusters on 3 replicas: 4/3/3, not
the 4/4/2 that "C / R rounded up" each could end in). Its view is valid for 0.8 of
``lease_seconds`` after the round began: a replica that cannot renew in time (it lost the database,
it hangs) drops everything at that point, before the database lets others take over, and its
``on_lost`` callbacks stop what it was doing (the dispatcher abandons its runs in flight: their new
owner adopts them). A replica that lost its leases comes back under a new identity (``name~N``)
and starts from nothing; what it owned under the old one is adopted as orphaned.

Takeover time after a kill -9 is at most ``lease_seconds`` + ``renew_seconds`` (+ one round).
SQLite is a single-replica store: :meth:`LeaseKeeper.start` refuses a second live replica on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from kubeprobe.center.errors import SingleReplicaStoreError
from kubeprobe.center.settings import HaSettings
from kubeprobe.center.store import leases
from kubeprobe.center.store.database import Store

log = logging.getLogger(__name__)
VALID_FRACTION = 0.8
#: How far back a cluster taken over from a dead replica has its missed firings started.
CATCH_UP_MAX_S = 120.0


def fair_share(clusters: int, peers: tuple[str, ...], replica: str) -> int:
    """How many of ``clusters`` ``replica`` should hold among the live ``peers`` (sorted names):
    the shares add up to ``clusters`` and differ by at most one."""
    if replica not in peers:  # not registered yet (or lapsed): count it as the last
        peers = (*peers, replica)
    base, extra = divmod(clusters, len(peers))
    return base + (1 if peers.index(replica) < extra else 0)


def default_replica() -> str:
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class LeaseKeeper:
    """This replica's leases: ``clusters`` it owns, whether it is ``leader`` (see the module)."""

    def __init__(
        self,
        store: Store,
        settings: HaSettings | None = None,
        *,
        replica: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings or HaSettings()
        self.name = replica or self.settings.replica or default_replica()
        self.incarnation = 0
        self.replica = self.name  # name~N after it was taken for dead N times
        self.clock = clock
        self.clusters: frozenset[int] = frozenset()
        self.leader = False
        self.held: dict[str, int] = {}  # name → fence
        self.generation = 0
        self.rounds = 0
        self.failures = 0
        self.lost = 0
        self._catch_up: dict[int, dt.datetime] = {}
        self._watch_since: dict[int, dt.datetime] = {}
        self._valid_until = 0.0
        self._changed = asyncio.Event()
        self._on_lost: list[Callable[[], None]] = []
        self._on_round: list[Callable[[], Awaitable[object]]] = []

    # -- what others use ---------------------------------------------------------------------------
    def on_lost(self, callback: Callable[[], None]) -> None:
        self._on_lost.append(callback)

    def on_round(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Called after every successful round (the dispatcher adopts orphaned runs there)."""
        self._on_round.append(callback)

    async def wait_change(self, timeout: float | None = None) -> bool:
        """Wait until what this replica holds changes (or ``timeout``); whether it did."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return event.is_set()

    def take_catch_up(self) -> dict[int, dt.datetime]:
        """Clusters taken over from another replica since the last call, each with that replica's
        last renewal (its firings from then on may be missing)."""
        out, self._catch_up = self._catch_up, {}
        return out

    def take_watch_since(self, cluster_id: int) -> dt.datetime | None:
        """For a cluster taken over from another replica: that replica's last renewal (what was
        written since then may not have been seen by its watches); asked once."""
        return self._watch_since.pop(cluster_id, None)

    # -- life --------------------------------------------------------------------------------------
    async def start(self) -> None:
        """The first round (SQLite: after making sure no other replica lives on the file)."""
        if self.store.dialect == "sqlite":
            await self._single_replica()
        await self.round()

    async def _single_replica(self) -> None:
        deadline = self.clock() + self.settings.lease_seconds + self.settings.renew_seconds
        while True:
            others = [
                lease.holder
                for lease in await leases.leases(self.store)
                if lease.name.startswith(leases.REPLICA) and lease.live and lease.holder != self.replica
            ]
            if not others:
                return
            if self.clock() > deadline:
                raise SingleReplicaStoreError(
                    f"another center replica ({others[0]}) is running on this SQLite database: SQLite is "
                    "a single-replica store. Stop the other replica, or run several replicas on "
                    "PostgreSQL (KUBEPROBE_DATABASE_URL=postgresql+asyncpg://user@host/db)."
                )
            log.warning(
                "replica %s still holds its lease on this SQLite file; waiting for it to lapse", others[0]
            )
            await asyncio.sleep(self.settings.renew_seconds)

    async def run_forever(self) -> None:
        while True:
            began = self.clock()
            await self.tick()
            await asyncio.sleep(max(0.0, self.settings.renew_seconds - (self.clock() - began)))

    async def tick(self) -> None:
        """One round; the renewal is bounded by what is left of the current view's validity, and
        what lapsed is given up."""
        budget = self._valid_until - self.clock() if self.held else self.settings.lease_seconds
        survey = None
        try:
            survey = await asyncio.wait_for(self._renew(), max(0.1, budget))
        except Exception as exc:  # the database may be away: keep trying, give up what lapsed
            self.failures += 1
            log.warning("renewing leases of replica %s failed: %s", self.replica, exc)
        if self.held and self.clock() >= self._valid_until:
            self._lose("its leases could not be renewed in time")
        elif survey is not None:
            try:
                await self._settle(survey)
            except Exception as exc:
                self.failures += 1
                log.warning("taking or giving up leases of replica %s failed: %s", self.replica, exc)

    async def close(self) -> None:
        """Leave: every lease lapses now, so others take this replica's work at once."""
        self.clusters, self.leader, self.held = frozenset(), False, {}
        self._bump()  # what waits on a change (the watch manager) lets go at once
        try:
            await leases.leave(self.store, self.replica)
        except Exception as exc:
            log.warning(
                "replica %s could not give up its leases (they lapse by themselves): %s", self.replica, exc
            )

    # -- one round ---------------------------------------------------------------------------------
    async def round(self) -> None:
        """Renew, then take and give up leases (unbounded: tests and the first round)."""
        survey = await self._renew()
        if survey is not None:
            await self._settle(survey)

    async def _renew(self) -> leases.Survey | None:
        """Renew what this replica holds; the view is valid until 0.8 of a lease after this began.
        None when it had been taken for dead (it starts again as a new replica)."""
        began = self.clock()
        survey = await leases.renew(self.store, self.replica, self.settings.lease_seconds)
        if not survey.alive and self.held:  # its runs were (or will be) adopted: start as a new replica
            old = self.replica
            self._lose("it was taken for dead (its replica lease had lapsed)")
            await leases.leave(self.store, old)
            return None
        self._valid_until = began + VALID_FRACTION * self.settings.lease_seconds
        return survey

    async def _settle(self, survey: leases.Survey) -> None:
        """Take free clusters up to this replica's share (and the lead when free), give up the rest."""
        ttl = self.settings.lease_seconds
        held = {name: fence for name, (_, fence) in survey.held.items()}
        mine = {c for c, _ in survey.held.values() if c is not None}
        fleet = set(survey.clusters)
        share = fair_share(len(fleet), survey.peers, self.replica)
        keep = sorted(mine & fleet, key=self._order)[:share]
        drop = sorted(mine - set(keep))
        free = [
            c for c in sorted(fleet - mine, key=self._order) if leases.cluster_lease(c) not in survey.busy
        ]
        wanted: list[tuple[str, int | None]] = [
            (leases.cluster_lease(c), c) for c in free[: share - len(keep)]
        ]
        if leases.LEADER not in held and leases.LEADER not in survey.busy:
            wanted.append((leases.LEADER, None))
        taken = await leases.acquire(self.store, self.replica, wanted, ttl)
        if drop:
            await leases.release(self.store, self.replica, [leases.cluster_lease(c) for c in drop])
        for lease in taken:
            held[lease.name] = lease.fence
            if lease.cluster_id is not None:
                mine.add(lease.cluster_id)
                if lease.previous not in (None, self.replica) and lease.previous_renewed is not None:
                    floor = survey.now - dt.timedelta(seconds=CATCH_UP_MAX_S)
                    self._catch_up[lease.cluster_id] = max(lease.previous_renewed, floor)
                    self._watch_since[lease.cluster_id] = lease.previous_renewed
                    log.warning(
                        "replica %s took over cluster %d from %s",
                        self.replica,
                        lease.cluster_id,
                        lease.previous,
                    )
        for cluster_id in drop:
            held.pop(leases.cluster_lease(cluster_id), None)
            self._watch_since.pop(cluster_id, None)
        held[leases.replica_lease(self.replica)] = held.get(leases.replica_lease(self.replica), 0)
        self._apply(held, frozenset(mine - set(drop)), leases.LEADER in held)
        self.rounds += 1
        for callback in self._on_round:
            await callback()

    def _order(self, cluster_id: int) -> str:
        """Each replica prefers different clusters, so replicas starting together rarely collide."""
        return hashlib.sha1(f"{self.replica}/{cluster_id}".encode()).hexdigest()

    def _apply(self, held: dict[str, int], clusters: frozenset[int], leader: bool) -> None:
        changed = clusters != self.clusters or leader != self.leader
        if leader != self.leader:
            log.warning("replica %s %s the leader", self.replica, "is now" if leader else "is no longer")
        self.held, self.clusters, self.leader = held, clusters, leader
        if changed:
            self._bump()

    def _bump(self) -> None:
        self.generation += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _lose(self, why: str) -> None:
        log.error(
            "replica %s lost its leases (%s): it stops scheduling, dispatching and leading "
            "until it holds them again",
            self.replica,
            why,
        )
        self.lost += 1
        if self.held:  # runs owned under the old identity become orphans for their clusters' owners
            self.incarnation += 1
            self.replica = f"{self.name}~{self.incarnation}"
        self.held, self.clusters, self.leader = {}, frozenset(), False
        self._catch_up, self._watch_since = {}, {}
        for callback in self._on_lost:
            callback()
        self._bump()


class Singletons:
    """Runs the fleet-wide loops (each a coroutine factory) while ``keeper`` leads; cancels them
    the moment it does not."""

    def __init__(
        self, keeper: LeaseKeeper, loops: dict[str, Callable[[], Coroutine[Any, Any, None]]]
    ) -> None:
        self.keeper = keeper
        self.loops = loops
        self.running: dict[str, asyncio.Task[None]] = {}
        self.started = 0

    async def run_forever(self) -> None:
        try:
            while True:
                if self.keeper.leader and not self.running:
                    self.running = {
                        name: asyncio.create_task(make(), name=name) for name, make in self.loops.items()
                    }
                    self.started += 1
                    log.info("leader %s runs %s", self.keeper.replica, ", ".join(self.loops))
                elif not self.keeper.leader and self.running:
                    await self._stop()
                await self.keeper.wait_change()
        finally:
            await self._stop()

    async def _stop(self) -> None:
        tasks, self.running = list(self.running.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
