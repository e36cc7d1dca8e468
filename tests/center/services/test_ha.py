"""An HA center for real: center replicas as processes on one PostgreSQL, runs executing.

- kill -9 of the leader while it runs a case: its clusters and the singletons move to the others
  within a lease, its run in flight is adopted and ended (not run again), its clusters are served
  again, and no run is lost or executed twice.
- a replica whose database connection is cut stops acting when its leases lapse; the others take
  its clusters and runs; when the database is back it comes back as a new replica.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import make_url

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.leases import leases
from kubeprobe.center.store.tables import Cluster, Run
from kubeprobe.model import RunState
from tests.center.replicas import DbProxy, Replica, executions, seed_fleet, start_replica

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
LEASE, RENEW = 3.0, 1.0
IN_FLIGHT = ("dispatched", "running")


@dataclass
class Fleet:
    db_url: str
    workdir: Path
    store: Store
    key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    replicas: list[Replica] = field(default_factory=list)

    @property
    def ledger(self) -> Path:
        return self.workdir / "ledger"

    def start(self, name: str, db_url: str | None = None) -> Replica:
        replica = start_replica(name, db_url or self.db_url, self.workdir, self.key, lease=LEASE, renew=RENEW)
        self.replicas.append(replica)
        return replica

    async def holders(self) -> dict[int, str]:
        """cluster id → replica holding its live lease."""
        return {le.cluster_id: le.holder for le in await leases(self.store) if le.live and le.cluster_id}

    async def leader(self) -> str | None:
        return next((le.holder for le in await leases(self.store) if le.live and le.name == "leader"), None)

    async def runs(self, *where: Any) -> list[Run]:
        async with self.store.transaction() as session:
            return list((await session.execute(select(Run).where(*where))).scalars())

    async def clusters(self) -> dict[str, int]:
        async with self.store.transaction() as session:
            return {n: i for i, n in (await session.execute(select(Cluster.id, Cluster.name))).all()}


@pytest.fixture
async def fleet(db_url: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    store = Store.connect(db_url)
    await store.migrate()
    fleet = Fleet(db_url, tmp_path, store)
    try:
        yield fleet
    finally:
        for replica in fleet.replicas:
            replica.stop()
        await store.close()


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        await asyncio.sleep(0.2)
    return value


async def balanced(fleet: Fleet, names: set[str], clusters: int) -> dict[int, str]:
    async def check() -> dict[int, str] | None:
        holders = await fleet.holders()
        per = [list(holders.values()).count(n) for n in names]
        return holders if len(holders) == clusters and min(per) >= 1 and await fleet.leader() else None

    return await until(check, 60, f"every cluster held, each of {names} holding some, a leader")  # type: ignore[no-any-return]


async def in_flight_of(fleet: Fleet, replica: str) -> Run:
    async def check() -> Run | None:
        runs = await fleet.runs(Run.owner == replica, Run.state.in_(IN_FLIGHT))
        return runs[0] if runs else None

    return await until(check, 60, f"a run in flight owned by {replica}")  # type: ignore[no-any-return]


async def no_run_lost_or_twice(fleet: Fleet) -> list[Run]:
    """Every run created so far ends (none stays pending or in flight), and none executed twice."""
    cutoff = dt.datetime.now(dt.UTC)

    async def check() -> list[Run] | None:
        runs = await fleet.runs(Run.created < cutoff)
        return runs if all(RunState(r.state).terminal for r in runs) else None

    runs: list[Run] = await until(check, 60, "every run created before the check ended")
    counts = executions(fleet.ledger)
    assert [r for r, n in counts.items() if n > 1] == [], "runs executed twice"
    succeeded = [r for r in runs if r.state == "succeeded"]
    assert succeeded
    assert all(counts[r.id] == 1 for r in succeeded)
    return runs


async def served_again(fleet: Fleet, cluster_ids: set[int], after: dt.datetime) -> None:
    async def check() -> bool:
        done = await fleet.runs(
            Run.cluster_id.in_(cluster_ids), Run.state == "succeeded", Run.created > after
        )
        return {r.cluster_id for r in done} == cluster_ids

    await until(check, 60, f"a run created after the takeover succeeded on clusters {cluster_ids}")


async def test_kill_9_moves_clusters_runs_and_singletons(fleet: Fleet) -> None:
    replicas = {r.name: r for r in (fleet.start(f"r{i}") for i in range(3))}
    await seed_fleet(replicas["r1"].url, 6, fleet.ledger)
    await balanced(fleet, set(replicas), 6)
    victim = replicas[str(await fleet.leader())]  # the leader: the singletons must move too
    run = await in_flight_of(fleet, victim.name)
    had = {c for c, holder in (await fleet.holders()).items() if holder == victim.name}
    victim.kill()
    killed = time.monotonic()

    async def taken_over() -> bool:
        holders = await fleet.holders()
        leader = await fleet.leader()
        return all(holders.get(c) not in (None, victim.name) for c in had) and leader not in (
            None,
            victim.name,
        )

    await until(taken_over, 30, f"{victim.name}'s clusters {had} and the lead taken over")
    took = time.monotonic() - killed
    assert took <= LEASE + 2 * RENEW + 3, f"takeover took {took:.1f}s"
    adopted = await until(
        lambda: _ended(fleet, run.id), 30, f"run {run.id} of the killed replica adopted and ended"
    )
    assert adopted.owner not in (None, victim.name)
    assert "its replica died" in " ".join(adopted.messages)
    await served_again(fleet, had, dt.datetime.now(dt.UTC))
    await no_run_lost_or_twice(fleet)


async def _ended(fleet: Fleet, run_id: str) -> Run | None:
    (run,) = await fleet.runs(Run.id == run_id)
    return run if RunState(run.state).terminal else None


async def test_a_replica_that_loses_the_database_stops_acting(fleet: Fleet) -> None:
    url = make_url(fleet.db_url)
    proxy = DbProxy(str(url.host), int(url.port or 5432)).start()
    try:
        cut_off = fleet.start("r0", url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        other = fleet.start("r1")
        await seed_fleet(other.url, 4, fleet.ledger)
        await balanced(fleet, {"r0", "r1"}, 4)
        run = await in_flight_of(fleet, "r0")
        had = {c for c, holder in (await fleet.holders()).items() if holder == "r0"}
        proxy.cut()

        async def taken_over() -> bool:
            holders = await fleet.holders()
            return all(holders.get(c) == "r1" for c in had) and await fleet.leader() == "r1"

        await until(taken_over, 30, "r0's clusters and the lead taken over by r1")
        await until(lambda: _async("lost its leases" in cut_off.output()), 10, "r0 says it lost its leases")
        adopted = await until(lambda: _ended(fleet, run.id), 30, f"r0's run {run.id} adopted and ended")
        assert adopted.owner == "r1"
        await served_again(fleet, had, dt.datetime.now(dt.UTC))
        proxy.restore()  # r0 comes back as a new replica and gets a share again

        async def back() -> bool:
            return "r0~1" in (await fleet.holders()).values()

        await until(back, 60, "r0 back as r0~1 holding clusters")
        assert cut_off.proc.poll() is None
        runs = await no_run_lost_or_twice(fleet)
        late = [r for r in runs if r.owner == "r0" and r.finished and r.finished > adopted.finished]
        assert late == [], "r0 recorded ends after its runs were adopted"
    finally:
        for replica in fleet.replicas:  # before the proxy goes: r0 leaves cleanly
            replica.stop()
        proxy.close()


async def _async(value: bool) -> bool:
    return value
