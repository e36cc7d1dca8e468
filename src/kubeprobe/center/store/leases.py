"""Leases in the database: which replicas live, which replica owns each cluster, which one leads.

A lease is a row of ``leases`` (see tables.ha) with a holder and an expiry. Three kinds:

- ``replica:<id>``: held by that replica while it renews it. A run whose ``owner`` holds no live
  replica lease is an orphan (its replica died or lost the database).
- ``cluster:<id>``: the replica that schedules, watches and dispatches that cluster's runs; claims
  are fenced by it in SQL (:func:`owned_clusters`), so a replica whose lease lapsed claims nothing.
- ``leader``: the replica that runs the fleet's singletons (analysis, incident delivery,
  staleness, rollups and retention).

Expiry is by the database's clock on PostgreSQL (``clock_timestamp()``), so replicas' clocks need
not agree; SQLite (one replica only) uses this process's clock. ``fence`` grows by one whenever a
lease changes hands. Each function is one transaction of a few statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Cluster, Lease, table_of

REPLICA = "replica:"
CLUSTER = "cluster:"
LEADER = "leader"


def replica_lease(replica: str) -> str:
    return f"{REPLICA}{replica}"


def cluster_lease(cluster_id: int) -> str:
    return f"{CLUSTER}{cluster_id}"


async def db_now(session: AsyncSession) -> dt.datetime:
    """Now by the database's clock (PostgreSQL), or this process's (SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        now: dt.datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
        return aware(now)
    return utcnow()


def now_sql(session: AsyncSession) -> ColumnElement[Any] | dt.datetime:
    """Now inside a statement: the transaction's time on PostgreSQL, this process's on SQLite."""
    return func.now() if session.get_bind().dialect.name == "postgresql" else utcnow()


def owned_clusters(session: AsyncSession, holder: str) -> Select[Any]:
    """The clusters whose lease ``holder`` holds now, as a subquery (the fence of every claim)."""
    return select(Lease.cluster_id).where(
        Lease.holder == holder, Lease.expires > now_sql(session), Lease.cluster_id.is_not(None)
    )


def live_replicas(session: AsyncSession) -> Select[Any]:
    """The ids of the replicas whose lease is live, as a subquery."""
    return select(Lease.holder).where(Lease.name.like(f"{REPLICA}%"), Lease.expires > now_sql(session))


@dataclass(frozen=True)
class Survey:
    """One renewal: what this replica still holds (name → (cluster id, fence)), whether its replica
    lease was still live (False: it had lapsed, every replica may have taken its work, and it was
    registered anew), the fleet's clusters, the live replicas (sorted, this one included), and the
    cluster and leader leases other replicas hold."""

    now: dt.datetime
    held: dict[str, tuple[int | None, int]]
    alive: bool
    clusters: list[int]
    peers: tuple[str, ...]
    busy: frozenset[str]

    @property
    def replicas(self) -> int:
        return len(self.peers)


@dataclass(frozen=True)
class Taken:
    """A lease this replica just acquired, and from whom (None: it was never held)."""

    name: str
    cluster_id: int | None
    fence: int
    previous: str | None
    previous_renewed: dt.datetime | None


def _upsert(session: AsyncSession, rows: list[dict[str, Any]], now: dt.datetime) -> Any:
    """INSERT the leases, or take over each that has expired (fence + 1); RETURNING what was won."""
    leases = table_of(Lease)
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(leases).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={
            "holder": stmt.excluded.holder,
            "cluster_id": stmt.excluded.cluster_id,
            "fence": leases.c.fence + 1,
            "acquired": stmt.excluded.acquired,
            "renewed": stmt.excluded.renewed,
            "expires": stmt.excluded.expires,
        },
        where=leases.c.expires <= now,
    ).returning(leases.c.name, leases.c.cluster_id, leases.c.fence)


def _row(name: str, cluster_id: int | None, holder: str, now: dt.datetime, ttl: float) -> dict[str, Any]:
    expires = now + dt.timedelta(seconds=ttl)
    return {
        "name": name,
        "cluster_id": cluster_id,
        "holder": holder,
        "fence": 1,
        "acquired": now,
        "renewed": now,
        "expires": expires,
    }


async def renew(store: Store, replica: str, ttl: float) -> Survey:
    """Renew every live lease of ``replica`` (one UPDATE), register it anew if its replica lease had
    lapsed, and look at the fleet: its clusters, live replicas, leases held by others."""
    async with store.transaction() as session:
        now = await db_now(session)
        leases = table_of(Lease)
        renewed = await session.execute(
            update(leases)
            .where(leases.c.holder == replica, leases.c.expires > now)
            .values(renewed=now, expires=now + dt.timedelta(seconds=ttl))
            .returning(leases.c.name, leases.c.cluster_id, leases.c.fence)
        )
        held = {name: (cluster_id, fence) for name, cluster_id, fence in renewed.all()}
        alive = replica_lease(replica) in held
        if not alive:
            await session.execute(
                _upsert(session, [_row(replica_lease(replica), None, replica, now, ttl)], now)
            )
        peers = (
            await session.execute(
                select(Lease.holder)
                .where(Lease.name.like(f"{REPLICA}%"), Lease.expires > now)
                .order_by(Lease.holder)
            )
        ).scalars()
        clusters = list((await session.execute(select(Cluster.id).order_by(Cluster.id))).scalars())
        busy = (
            await session.execute(
                select(Lease.name).where(
                    Lease.holder != replica,
                    Lease.expires > now,
                    (Lease.cluster_id.is_not(None)) | (Lease.name == LEADER),
                )
            )
        ).scalars()
        return Survey(now, held, alive, clusters, tuple(peers), frozenset(busy))


async def acquire(
    store: Store, replica: str, wanted: Sequence[tuple[str, int | None]], ttl: float
) -> list[Taken]:
    """Take each of ``wanted`` (name, cluster id) that is free or expired; what was won."""
    if not wanted:
        return []
    names = [name for name, _ in wanted]
    async with store.transaction() as session:
        now = await db_now(session)
        before = {
            row.name: (row.holder, aware(row.renewed))
            for row in await session.execute(
                select(Lease.name, Lease.holder, Lease.renewed).where(Lease.name.in_(names))
            )
        }
        rows = [_row(name, cluster_id, replica, now, ttl) for name, cluster_id in wanted]
        won = (await session.execute(_upsert(session, rows, now))).all()
    return [
        Taken(name, cluster_id, fence, *before.get(name, (None, None))) for name, cluster_id, fence in won
    ]


async def release(store: Store, replica: str, names: Sequence[str]) -> None:
    """Let others take these leases of ``replica`` at once (they expire now)."""
    if not names:
        return
    async with store.transaction() as session:
        now = await db_now(session)
        await session.execute(
            update(Lease).where(Lease.holder == replica, Lease.name.in_(list(names))).values(expires=now)
        )


async def leave(store: Store, replica: str) -> None:
    """A replica stopping: its leases expire now and its replica lease goes (its runs left in
    flight are orphans at once, adopted by their clusters' new owners)."""
    async with store.transaction() as session:
        now = await db_now(session)
        await session.execute(update(Lease).where(Lease.holder == replica).values(expires=now))
        await session.execute(delete(Lease).where(Lease.name == replica_lease(replica)))


@dataclass(frozen=True)
class LeaseView:
    name: str
    cluster_id: int | None
    holder: str
    fence: int
    expires: dt.datetime
    live: bool


async def leases(store: Store) -> list[LeaseView]:
    """Every lease, with whether it is live now (for status pages, tests and the HA bench)."""
    async with store.transaction() as session:
        now = await db_now(session)
        rows = (await session.execute(select(Lease).order_by(Lease.name))).scalars().all()
        return [
            LeaseView(r.name, r.cluster_id, r.holder, r.fence, aware(r.expires), aware(r.expires) > now)
            for r in rows
        ]
