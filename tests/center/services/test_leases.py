"""Leases of an HA center, in one process on both stores: replicas share the clusters, one leads,
a dead replica's clusters and runs in flight are taken over, a replica that cannot renew stops
acting, and SQLite refuses a second replica. (Real processes and kill -9: test_ha.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from sqlalchemy import select

from kubeprobe.center.errors import SingleReplicaStoreError
from kubeprobe.center.services.leases import LeaseKeeper, fair_share
from kubeprobe.center.settings import HaSettings
from kubeprobe.center.store import dispatching
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.leases import LeaseView, leases
from kubeprobe.center.store.tables import Cluster
from kubeprobe.runners.base import RunEnd
from tests.center.conftest import CenterApp
from tests.center.helpers import ok, seed

HA = HaSettings(lease_seconds=1.0, renew_seconds=0.5)
#: A database that is not there: what a replica that lost its database sees.
AWAY = "postgresql+asyncpg://nobody@127.0.0.1:9/none"


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


async def _cluster_ids(center_app: CenterApp, n: int) -> set[int]:
    await seed(center_app.client(), clusters=n)
    async with center_app.app.state.store.transaction() as session:
        return set((await session.execute(select(Cluster.id))).scalars())


async def _rounds(*keepers: LeaseKeeper, n: int = 3) -> None:
    for _ in range(n):
        for keeper in keepers:
            await keeper.round()


async def _until(check: Any, keeper: LeaseKeeper, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not taken over: {keeper.clusters}, leader {keeper.leader}"
        await keeper.round()
        await asyncio.sleep(0.1)


async def test_replicas_share_the_clusters_and_one_leads(center_app: CenterApp, store: Store) -> None:
    fleet = await _cluster_ids(center_app, 4)
    a, b = LeaseKeeper(store, HA, replica="a"), LeaseKeeper(store, HA, replica="b")
    await _rounds(a)
    assert a.clusters == fleet
    assert a.leader
    await _rounds(b, a, b)  # b joins: a lets go of what is above its share, b takes it
    assert a.clusters.isdisjoint(b.clusters)
    assert a.clusters | b.clusters == fleet
    assert len(a.clusters) == len(b.clusters) == 2
    assert [a.leader, b.leader].count(True) == 1


def test_shares_split_the_fleet_exactly() -> None:
    peers = ("a", "b", "c")
    assert [fair_share(10, peers, p) for p in peers] == [4, 3, 3]
    assert [fair_share(2, peers, p) for p in peers] == [1, 1, 0]
    assert fair_share(10, ("a", "b"), "c") == 3  # not registered yet: counted as the last


async def test_ten_clusters_on_three_replicas_end_four_three_three(
    center_app: CenterApp, store: Store
) -> None:
    fleet = await _cluster_ids(center_app, 10)
    a, b, c = (LeaseKeeper(store, HA, replica=name) for name in "abc")
    await _rounds(a)  # a alone holds everything, then b and c join
    await _rounds(b, c, a, b, c, n=2)
    held = [a.clusters, b.clusters, c.clusters]
    assert frozenset().union(*held) == fleet
    assert sum(len(h) for h in held) == 10  # disjoint
    assert [len(h) for h in held] == [4, 3, 3]  # was 4/4/2: each took clusters / replicas rounded up


async def test_a_dead_replica_is_taken_over_with_its_runs(center_app: CenterApp, store: Store) -> None:
    fleet = await _cluster_ids(center_app, 2)
    admin = center_app.client()
    a, b = LeaseKeeper(store, HA, replica="a"), LeaseKeeper(store, HA, replica="b")
    await _rounds(a, b, a, b)
    a_had = a.clusters
    assert a_had
    assert b.clusters
    assert a.leader
    a_cluster = next(iter(a_had))
    for i in range(2):
        await ok(await admin.post("/api/v1/runs", json={"case": "pod", "cluster": f"c{i}"}), 201)
    claimed_a = await dispatching.claim_pending(store, 10, owner="a")
    claimed_b = await dispatching.claim_pending(store, 10, owner="b")
    assert len(claimed_a) == 1
    assert len(claimed_b) == 1
    assert claimed_a[0][0].cluster_id == a_cluster
    run_a = claimed_a[0][0].run_id
    assert await dispatching.adopt_orphans(store, "b") == []  # a lives: nothing to adopt
    # a dies (stops renewing): within a lease b holds everything, leads, and adopts a's run
    await _until(lambda: b.clusters == fleet and b.leader, b)
    assert set(a_had) <= set(b.take_catch_up())  # its firings since a last renewed are started late
    adopted = await dispatching.adopt_orphans(store, "b")
    assert [row.run_id for row, _ in adopted] == [run_a]
    assert await dispatching.adopt_orphans(store, "b") == []  # adopted once
    # a's end of that run, arriving late, is dropped; b's counts
    assert await dispatching.finish_runs(store, [(run_a, RunEnd("error", "from a"))], owner="a") == []
    ended = await dispatching.finish_runs(store, [(run_a, RunEnd("error", "adopted"))], owner="b")
    assert [e[0] for e in ended] == [run_a]


async def test_a_replica_that_cannot_renew_stops_acting(center_app: CenterApp, store: Store) -> None:
    await _cluster_ids(center_app, 2)
    clock = Clock()
    a = LeaseKeeper(store, HA, replica="a", clock=clock)
    lost: list[bool] = []
    a.on_lost(lambda: lost.append(True))
    await a.round()
    assert a.clusters
    assert a.leader
    away = Store.connect(AWAY, timeout=0.3)
    a.store = away  # the database is gone for a
    try:
        await a.tick()  # fails, but the view is still valid: nothing dropped yet
        assert a.clusters
        assert not lost
        clock.now += HA.lease_seconds  # ... until its validity (0.8 of a lease) has passed
        await a.tick()
    finally:
        await away.close()
    assert lost == [True]
    assert not a.clusters
    assert not a.leader
    assert a.replica == "a~1"  # comes back as a new replica: what it owned is adopted as orphaned
    a.store = store
    clock.now = time.monotonic()
    b = LeaseKeeper(store, HA, replica="b")
    await _until(lambda: bool(b.clusters), b)  # a's old leases lapse and b takes them
    await a.round()
    assert "a" not in {lease.holder for lease in await _live(store)}


async def _live(store: Store) -> list[LeaseView]:
    return [lease for lease in await leases(store) if lease.live]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_refuses_a_second_replica(center_app: CenterApp, store: Store) -> None:
    a, b = LeaseKeeper(store, HA, replica="a"), LeaseKeeper(store, HA, replica="b")
    await a.start()
    renewing = asyncio.create_task(a.run_forever())
    try:
        with pytest.raises(SingleReplicaStoreError, match=r"single-replica store.*PostgreSQL"):
            await b.start()
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
    await a.close()  # a stopped cleanly: b starts at once
    await b.start()
    assert b.leader
